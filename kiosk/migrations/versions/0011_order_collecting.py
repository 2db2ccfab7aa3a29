"""orders note when a collect is lending their items, so no other change lands meanwhile

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 15:40:00

A collect with lending claims the order, sends one checkout per item to the library system,
then marks it collected. A cancel (or clearance) that landed between the claim and the end
won, and the collect lost with its items already lent. `collecting_since` is set by the
claim and cleared by the collect's end; every status change refuses an order being
collected (until the claim is older than a few minutes: a station that died meanwhile).
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both engines, never a batch rebuild (see 0009).


def upgrade():
    op.add_column("orders", sa.Column("collecting_since", sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade():
    op.execute("ALTER TABLE orders DROP COLUMN collecting_since")
