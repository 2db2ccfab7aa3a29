"""shelves and slots belong to a branch: names and slot labels are unique per branch

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 15:00:00

Shelf names and slot labels were unique across the whole database, so two branches on one
database could not both have a shelf "A". Both tables get a `branch`; uniqueness is now per
branch. The shelves already in the database become the shelves of the branch of the station
that runs this upgrade first (its `[station] branch`; "main" when run without a station's
configuration). Ids stay as they are, so every bag keeps its place on its slot. The two
statistics indexes take the branch, so one branch's statistics read no order rows.

SQLite cannot drop a unique constraint, so there the two tables are rebuilt the way SQLite
documents it (foreign keys off, copy, drop, rename, foreign_key_check): with foreign keys on,
dropping the old `slots` would cascade into `places` and take the bags off the shelf.
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

DEFAULT_BRANCH = "main"


def _upgrading_branch() -> str:
    """Return the `[station] branch` of the station running the upgrade."""
    from flask import current_app, has_app_context

    settings = current_app.config.get("KIOSK_SETTINGS") if has_app_context() else None
    return settings.station.branch if settings is not None else DEFAULT_BRANCH


def _shelves(name: str, per_branch: bool) -> sa.Table:
    unique = (sa.UniqueConstraint("branch", "name", name="uq_shelves_branch_name")
              if per_branch else sa.UniqueConstraint("name"))
    columns = [sa.Column("id", sa.Integer(), primary_key=True),
               sa.Column("name", sa.String(8), nullable=False),
               sa.Column("position", sa.Integer(), nullable=False)]
    if per_branch:
        columns.insert(1, sa.Column("branch", sa.String(64), nullable=False))
    return sa.Table(name, sa.MetaData(), *columns, unique)


def _slots(name: str, per_branch: bool) -> sa.Table:
    columns = [sa.Column("id", sa.Integer(), primary_key=True),
               sa.Column("shelf_id", sa.Integer(),
                         sa.ForeignKey("shelves.id", ondelete="CASCADE"), nullable=False),
               sa.Column("number", sa.Integer(), nullable=False),
               sa.Column("label", sa.String(16), nullable=False),
               sa.Column("capacity", sa.Integer(), nullable=False),
               sa.Column("active", sa.Boolean(), nullable=False),
               sa.CheckConstraint("capacity > 0", name="slot_capacity_positive"),
               sa.UniqueConstraint("shelf_id", "number")]
    if per_branch:
        columns[2:2] = [sa.Column("branch", sa.String(64), nullable=False)]
        columns.append(sa.UniqueConstraint("branch", "label", name="uq_slots_branch_label"))
    else:
        columns.append(sa.UniqueConstraint("label"))
    shelves = _shelves("shelves", per_branch)  # the foreign key's target, by name
    return sa.Table(name, shelves.metadata, *columns)


def _rebuild_sqlite(per_branch: bool, branch: str) -> None:
    """Rebuild shelves and slots with (or without) their branch, keeping every id."""
    bind = op.get_bind()
    raw = bind.connection.dbapi_connection
    if raw.in_transaction:  # the migrations before this one are done: keep them
        raw.commit()
    raw.execute("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction, hence the commit
    try:
        raw.execute("BEGIN")
        new_shelves, new_slots = _shelves("shelves_new", per_branch), _slots("slots_new",
                                                                            per_branch)
        new_shelves.create(bind)
        new_slots.create(bind)
        if per_branch:
            bind.execute(sa.text("INSERT INTO shelves_new (id, branch, name, position) "
                                 "SELECT id, :branch, name, position FROM shelves"),
                         {"branch": branch})
            bind.execute(sa.text(
                "INSERT INTO slots_new (id, shelf_id, branch, number, label, capacity, active) "
                "SELECT s.id, s.shelf_id, h.branch, s.number, s.label, s.capacity, s.active "
                "FROM slots s JOIN shelves_new h ON h.id = s.shelf_id"))
        else:
            bind.execute(sa.text("INSERT INTO shelves_new (id, name, position) "
                                 "SELECT id, name, position FROM shelves"))
            bind.execute(sa.text(
                "INSERT INTO slots_new (id, shelf_id, number, label, capacity, active) "
                "SELECT id, shelf_id, number, label, capacity, active FROM slots"))
        for table in ("slots", "shelves"):
            bind.execute(sa.text(f"DROP TABLE {table}"))
            bind.execute(sa.text(f"ALTER TABLE {table}_new RENAME TO {table}"))
        broken = bind.execute(sa.text("PRAGMA foreign_key_check")).fetchall()
        if broken:
            raise RuntimeError(f"shelves and slots rebuilt with broken references: {broken}")
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def _unique_on(table: str, columns: list[str]) -> str | None:
    for constraint in sa.inspect(op.get_bind()).get_unique_constraints(table):
        if constraint["column_names"] == columns:
            return constraint["name"]
    return None


# The statistics' covering indexes (0007) take the branch too: statistics of one branch
# then read the period's index entries, not every order of the branch. Leading with the
# time (not the branch) keeps them out of the way of the scan's branch lookups.
INDEXES = {"ix_orders_shelved_at": (["shelved_at", "slot_label"],
                                    ["shelved_at", "slot_label", "branch"]),
           "ix_orders_closed_at": (["closed_at", "status", "shelved_at"],
                                   ["closed_at", "status", "shelved_at", "branch"])}


def upgrade():
    branch = _upgrading_branch()
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(True, branch)
    else:
        _per_branch_postgresql(branch)
    for name, (_before, columns) in INDEXES.items():
        op.drop_index(name, table_name="orders")
        op.create_index(name, "orders", columns)


def _per_branch_postgresql(branch: str) -> None:
    op.add_column("shelves", sa.Column("branch", sa.String(64), nullable=True))
    op.add_column("slots", sa.Column("branch", sa.String(64), nullable=True))
    op.execute(sa.text("UPDATE shelves SET branch = :branch").bindparams(branch=branch))
    op.execute("UPDATE slots SET branch = shelves.branch FROM shelves "
               "WHERE shelves.id = slots.shelf_id")
    op.alter_column("shelves", "branch", nullable=False)
    op.alter_column("slots", "branch", nullable=False)
    op.drop_constraint(_unique_on("shelves", ["name"]), "shelves", type_="unique")
    op.drop_constraint(_unique_on("slots", ["label"]), "slots", type_="unique")
    op.create_unique_constraint("uq_shelves_branch_name", "shelves", ["branch", "name"])
    op.create_unique_constraint("uq_slots_branch_label", "slots", ["branch", "label"])


def downgrade():
    """Go back to names unique across the database (fails if two branches share a name)."""
    for name, (columns, _after) in INDEXES.items():
        op.drop_index(name, table_name="orders")
        op.create_index(name, "orders", columns)
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(False, DEFAULT_BRANCH)
        return
    op.drop_constraint("uq_slots_branch_label", "slots", type_="unique")
    op.drop_constraint("uq_shelves_branch_name", "shelves", type_="unique")
    op.create_unique_constraint("slots_label_key", "slots", ["label"])
    op.create_unique_constraint("shelves_name_key", "shelves", ["name"])
    op.drop_column("slots", "branch")
    op.drop_column("shelves", "branch")
