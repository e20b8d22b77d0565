"""Protection policy: rules + a view of the processes -> intended ``oom_score_adj`` changes, their effect on
each OOM domain's victim, and audit findings. Pure: imports ``kernel`` and ``analysis`` only; the apply step
(writes) lives in ``sources`` and the CLI."""
