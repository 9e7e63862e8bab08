import wandb
import os

run = wandb.init(project="files")
os.makedirs("ckpt", exist_ok=True)
with open("ckpt/model-1.bin", "wb") as f:
    f.write(b"\x00" * 16)
wandb.save("ckpt/*.bin")
with open(os.path.join(wandb.run.dir, "notes.txt"), "w") as f:
    f.write("written into run.dir\n")
with open("ckpt/model-2.bin", "wb") as f:
    f.write(b"\x01" * 8)
wandb.log({"loss": 0.2})
wandb.finish()
