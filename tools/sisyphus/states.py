"""User-visible state names of jobs and tasks (docs/SISYPHUS_COMPAT.md §4.1)."""
WAITING = "waiting"
RUNNABLE = "runnable"
HOLD = "hold"
QUEUE = "queue"
RUNNING = "running"
INTERRUPTED_RESUMABLE = "interrupted_resumable"
INTERRUPTED_NOT_RESUMABLE = "interrupted_not_resumable"
ERROR = "error"
QUEUE_ERROR = "queue_error"
RETRY_ERROR = "retry_error"
UNKNOWN = "unknown"
FINISHED = "finished"
INPUT_PATH = "input_path"
INPUT_MISSING = "input_missing"

# When array tasks of one task disagree, the first present in this order is the task's state.
TASK_STATE_PRIORITY = [
    ERROR, QUEUE_ERROR, INTERRUPTED_RESUMABLE, INTERRUPTED_NOT_RESUMABLE, RUNNABLE, QUEUE, RUNNING,
    RETRY_ERROR, FINISHED,
]
