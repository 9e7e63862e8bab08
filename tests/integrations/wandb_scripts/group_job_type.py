import wandb

for job_type in ("train", "eval"):
    run = wandb.init(project="grouped", group="experiment-1", job_type=job_type, name=f"exp1-{job_type}")
    run.log({f"{job_type}/score": 1.0 if job_type == "train" else 0.5})
    run.finish()
