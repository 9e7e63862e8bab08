import wandb
import numpy as np


class Model:
    pass


model = Model()
run = wandb.init(project="numpy")
wandb.watch(model, log="all", log_freq=10)
wandb.watch(model)
for step in range(3):
    wandb.log({
        "loss": np.float32(0.5) / (step + 1),
        "correct": np.int64(10 * step),
        "mean_act": np.array(0.25),
        "converged": step == 2,
        "phase": "train",
        "val": {"loss": np.float64(1.0 - step / 10), "acc": 0.5},
    })
wandb.unwatch(model)
wandb.finish()
