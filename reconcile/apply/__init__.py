"""Running a plan against the API: executor, operations, progress events, the stack lock.

It does what a plan says and nothing else; deciding what to change is the planner's job.
retain's two-phase run (snapshots, then prunes) lives here too, as two plans run in turn.
"""
