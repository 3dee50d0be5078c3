"""Realtime projection: the ps_* and extensions rows Asterisk reads, derived from the domain."""

from app.projection.sync import Scope, apply_pending, deferred, drift, rebuild, touch

__all__ = ["Scope", "apply_pending", "deferred", "drift", "rebuild", "touch"]
