"""orders carry a version number: each change is made only on the state it was decided on

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 14:10:00

Every change of an order (collect, cancel, shelve, move, pack, clear, correct, expire) reads
the order, decides, and writes. Two stations deciding at once both wrote: two "collected"
rows, two webhooks, two checkouts. The ORM now writes `UPDATE orders ... WHERE id = :id AND
version = :seen` and raises the version (SQLAlchemy's version_id_col), so only the first
change lands and the other is refused with a 409. Existing orders start at 1.
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both engines (SQLite has ADD and DROP COLUMN since 3.35), never a
# batch rebuild: on SQLite, dropping the old `orders` with foreign keys on would cascade
# into items, audit events and jobs.


def upgrade():
    op.add_column("orders", sa.Column("version", sa.Integer(), nullable=False,
                                      server_default="1"))


def downgrade():
    op.execute("ALTER TABLE orders DROP COLUMN version")
