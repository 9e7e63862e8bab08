import wandb

run = wandb.init(project="tags", tags=("baseline", "cnn"), notes="first try with a small CNN")
run.log({"loss": 0.5})
run.tags = run.tags + ("augmented",)
run.notes = "first try with a small CNN; augmentation on"
run.name = "baseline-aug"
run.finish()
