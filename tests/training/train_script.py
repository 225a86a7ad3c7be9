"""Run a tiny training in a separate process (used by test_trainer.py's crash/resume test).

usage: train_script.py CORPUS_JSON OUT_DIR [KILL_AT_SUB_EPOCH KILL_AT_STEP]
With the kill arguments the process SIGKILLs itself after that training step, as a crash would.
"""
import json
import logging
import os
import signal
import sys

import torch

from memristor_asr.nn import ModelConfig
from memristor_asr.training.data import CTCDataset
from memristor_asr.training.trainer import TrainConfig, train

MODEL = ModelConfig(frontend_channels=(4, 8, 8, 4), model_dim=32, ff_dim=64, num_heads=2, num_blocks=2,
                    conv_kernel_size=7)
TRAIN = TrainConfig(num_epochs=2, partition_epoch=3, batch_seconds=3.0, seqs_per_bin=16, lr_peak=3e-3, seed=5)


def main():
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(1)
    corpus = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    kill_at = tuple(int(a) for a in sys.argv[3:5]) if len(sys.argv) > 4 else None

    def progress(p):
        if kill_at and (p.sub_epoch, p.step) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    data = {split: CTCDataset.load(features_path=corpus[f"{split}_features"], manifest_path=corpus[f"{split}_manifest"],
                                   lexicon_path=corpus["lexicon"], labels_path=corpus["labels"])
            for split in ("train", "dev")}
    train(model_cfg=MODEL, train_cfg=TRAIN, train_data=data["train"], dev_data=data["dev"],
          checkpoint_dir=os.path.join(out, "checkpoints"), losses_csv=os.path.join(out, "losses.csv"),
          final_checkpoint=os.path.join(out, "model.pt"), device="cpu", progress=progress,
          convergence=None)  # the mechanics of resuming, on a model too small to learn much


if __name__ == "__main__":
    main()
