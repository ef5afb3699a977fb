"""Running a plan against the API: executor, operations, progress events, the stack lock.

It does what a plan says and nothing else; deciding what to change is the planner's job.
"""
