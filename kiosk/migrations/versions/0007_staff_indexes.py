"""indexes for the staff pages and bulk work at a big library's scale

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:20:00

The orders list (by branch, newest first, with or without a status), the search by
pickup code, statistics (shelved or closed in a period), clearance (bags on the shelf by
last day) and anonymising closed orders each read through an index instead of the table.
"""
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

INDEXES = {
    "ix_orders_branch_id": ["branch", "id"],
    "ix_orders_status_id": ["status", "id"],
    "ix_orders_pickup_code": ["pickup_code"],
    "ix_orders_cancelled_ref": ["cancelled_ref"],
    "ix_orders_shelved_at": ["shelved_at", "slot_label"],  # covering: statistics read no rows
    "ix_orders_closed_at": ["closed_at", "status", "shelved_at"],
    "ix_orders_status_deadline": ["status", "deadline"],
}


def upgrade():
    for name, columns in INDEXES.items():
        op.create_index(name, "orders", columns)


def downgrade():
    for name in INDEXES:
        op.drop_index(name, table_name="orders")
