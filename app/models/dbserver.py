"""DbServer: one MariaDB server of the platform (the primary or a replica); NodeLocalCopy: a node's 911 data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class DbServer(Base):
    """A MariaDB server: the one primary the admin writes to, or a GTID replica nodes read from.

    `primary_flag` is 1 on the primary and NULL on replicas; its UNIQUE constraint (NULLs do not collide
    on MariaDB or SQLite) mirrors the rule "exactly one primary" in the database itself.
    """

    __tablename__ = "db_servers"
    __table_args__ = (
        CheckConstraint("role IN ('primary', 'replica')", name="role"),
        CheckConstraint("(role = 'primary' AND primary_flag = 1) OR (role = 'replica' AND primary_flag IS NULL)",
                        name="primary_flag"),
        CheckConstraint("port BETWEEN 1 AND 65535", name="port"),
        CheckConstraint("max_connections BETWEEN 1 AND 100000", name="max_connections"),
        UniqueConstraint("host", "port"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer, default=3306)
    role: Mapped[str] = mapped_column(String(8))
    primary_flag: Mapped[bool | None] = mapped_column(Boolean, unique=True, nullable=True)
    hosting_provider: Mapped[str] = mapped_column(String(64))
    # The server's own max_connections (MariaDB's default 151): node render warns when the fleet's pools exceed it.
    max_connections: Mapped[int] = mapped_column(Integer, default=151)

    def __str__(self) -> str:
        return self.name


class NodeLocalCopy(Base):
    """What a node was last rendered with for the calls it must place while no database answers (911).

    `node render` writes the client's E911 rows and the route rows into the node's extensions.conf and records
    here when (rendered_at) and a digest of those rows; the node page compares the digest with the rows of now,
    so the admin sees when a node's local copy is out of date and needs a re-render.
    """

    __tablename__ = "node_local_copies"

    node_id: Mapped[int] = mapped_column(Integer, ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    rendered_at: Mapped[datetime] = mapped_column(DateTime)
    digest: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer, default=0)
