"""Operations routes: liveness, readiness and /metrics.

A package of its own, above every domain: readiness asks several of them (the job store, the
model store, the serving device), so it wires them together as `app.main` does.
"""
