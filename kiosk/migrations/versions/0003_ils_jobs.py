"""checkout_jobs becomes ils_jobs: one queue for checkouts and check-ins

The queue keeps its rows (kind "checkout"); a job is now unique per item and kind.
The table is copied rather than altered so that SQLite and PostgreSQL take the same
path (the old unique key on item_id has no name to drop on SQLite).

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

COLUMNS = ("id, order_id, item_id, card, item_barcode, state, attempts, created_at, done_at, "
           "due_date, message")


def _reset_sequence(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                   f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)")


def upgrade():
    op.create_table('ils_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('card', sa.String(length=64), nullable=False),
    sa.Column('item_barcode', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_date', sa.String(length=32), nullable=True),
    sa.Column('message', sa.String(length=500), nullable=True),
    sa.Column('alert', sa.String(length=2), nullable=True),
    sa.Column('destination', sa.String(length=100), nullable=True),
    sa.CheckConstraint("state IN ('queued', 'done', 'refused', 'failed')", name='job_state'),
    sa.CheckConstraint("kind IN ('checkout', 'checkin')", name='job_kind'),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'item_id', name='uq_ils_jobs_kind_item')
    )
    op.execute(f"INSERT INTO ils_jobs (kind, {COLUMNS}) "
               f"SELECT 'checkout', {COLUMNS} FROM checkout_jobs")
    _reset_sequence('ils_jobs')
    with op.batch_alter_table('checkout_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_checkout_jobs_state')
    op.drop_table('checkout_jobs')
    with op.batch_alter_table('ils_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_ils_jobs_state', ['state', 'id'], unique=False)


def downgrade():
    op.create_table('checkout_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('card', sa.String(length=64), nullable=False),
    sa.Column('item_barcode', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_date', sa.String(length=32), nullable=True),
    sa.Column('message', sa.String(length=500), nullable=True),
    sa.CheckConstraint("state IN ('queued', 'done', 'refused', 'failed')", name='job_state'),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('item_id')
    )
    op.execute(f"INSERT INTO checkout_jobs ({COLUMNS}) "
               f"SELECT {COLUMNS} FROM ils_jobs WHERE kind = 'checkout'")  # check-ins are dropped
    _reset_sequence('checkout_jobs')
    with op.batch_alter_table('ils_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_ils_jobs_state')
    op.drop_table('ils_jobs')
    with op.batch_alter_table('checkout_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_checkout_jobs_state', ['state', 'id'], unique=False)
