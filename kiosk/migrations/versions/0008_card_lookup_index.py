"""the scan's lookup reads through one index on card, status and branch

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:20:00

The scan asks for one card's open orders at one branch. With only (card, status) and
(status, branch) to choose from, SQLite without statistics took (status, branch) and read
every open order of the branch: 1.3 ms a scan on 20,000 orders instead of 0.06 ms. An
index on (card, status, branch) matches all three conditions, so every planner takes it;
its (card, status) prefix still serves the staff search by card.
"""
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_orders_card_status_branch", "orders", ["card", "status", "branch"])
    op.drop_index("ix_orders_card_status", table_name="orders")


def downgrade():
    op.create_index("ix_orders_card_status", "orders", ["card", "status"])
    op.drop_index("ix_orders_card_status_branch", table_name="orders")
