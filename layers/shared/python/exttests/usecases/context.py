"""Reading what a request needs: one table read, plus the live roster for what it lacked."""

from __future__ import annotations

from ..ports import Context
from .deps import Deps


def load_context(deps: Deps, student_id: str, lesson_id: str) -> Context:
    ctx = deps.store.load_context(student_id, lesson_id)
    return deps.roster.refresh(ctx, student_id, lesson_id) if ctx.stale else ctx
