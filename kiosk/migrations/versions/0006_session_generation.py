"""staff session generation: ending every session of a user at once

The lockout moved out of the table (kiosk.domain.throttle counts failures per account and
address in memory), so failed_logins and locked_until go.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 21:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('staff_users') as batch:
        batch.add_column(sa.Column('session_generation', sa.Integer(), nullable=False,
                                   server_default='0'))
        batch.drop_column('failed_logins')
        batch.drop_column('locked_until')


def downgrade():
    with op.batch_alter_table('staff_users') as batch:
        batch.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False,
                                   server_default='0'))
        batch.drop_column('session_generation')
