"""The batch-size probe (PLAYBOOK.md section 0): fix the batch size from measured throughput.

Why: the batch size is not tuned for validation performance; it decides training speed,
and changing it later invalidates the tuned optimizer. So it is picked once per
architecture and device, before any round, from a measurement: train a few steps at
batch sizes 1, 2, 4, ... up to ``probe.max_batch_size`` or the first out-of-memory, time
them, and keep the largest size that still bought a meaningful throughput gain.

How a size is measured (``measure_batch``): a fresh, seeded model and optimizer, batches
gathered from the device-resident training tensors exactly as ``fit`` does (random
indices drawn *with replacement*, so a batch may be larger than the training set; the
configured crop/flip augmentation; bf16 autocast and channels-last on CUDA), warm-up
steps that are not timed, then ``repeats`` timed windows of at least ``timed_steps``
steps (and at least ``min_repeat_seconds``), the device synchronised before every clock
read. The median window gives the time per step.

Out of memory (``torch.cuda.OutOfMemoryError``, the CPU allocator failing, or on the CPU
the configured ``probe.cpu_memory_limit_mb`` ceiling) stops the sweep at that size. The
handler only records a flag: the memory is released *after* the ``except`` block
(reference/reliability.md section 5), because the exception's traceback holds the frames
that hold the model, optimizer and batch, and nothing can be freed while it lives.

This package imports neither Optuna nor Hydra: ``measure.run_probe`` works from a plain
script. Its modules: ``model.py`` (points, verdict, result), ``measure.py`` (timing, OOM),
``rule.py`` (the recommendation, pure), ``output.py`` (table, files, apply), ``chart.py``.
"""
