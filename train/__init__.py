"""ZO fine-tuning (MeZO and PeZO) on top of the golden stream: perturbation sources, ZO-SGD, models, tasks, data
and the training loop."""
