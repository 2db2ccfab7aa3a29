"""a cancelled order frees its ref: orders.cancelled_ref

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 21:00:00

A wrongly imported order can be cancelled and its ref used again by a corrected
import. The ref stays unique among the orders that are not cancelled (the unique
key on orders.ref, unchanged); cancelling moves it to cancelled_ref. Orders
cancelled before this revision get the same treatment here.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN: no table rebuild (which on SQLite would drop and recreate
    # orders while its items hang on it with ON DELETE CASCADE).
    op.add_column('orders', sa.Column('cancelled_ref', sa.String(length=64), nullable=True))
    op.execute("UPDATE orders SET cancelled_ref = ref, ref = NULL "
               "WHERE status = 'cancelled' AND ref IS NOT NULL")


def downgrade():
    # Give cancelled orders their ref back where no live order has taken it since (the
    # last one cancelled, when several were).
    op.execute("UPDATE orders SET ref = cancelled_ref WHERE cancelled_ref IS NOT NULL "
               "AND NOT EXISTS (SELECT 1 FROM orders AS o WHERE o.ref = orders.cancelled_ref) "
               "AND id = (SELECT max(o.id) FROM orders AS o "
               "WHERE o.cancelled_ref = orders.cancelled_ref)")
    op.execute("ALTER TABLE orders DROP COLUMN cancelled_ref")  # SQLite 3.35+, PostgreSQL
