"""Job ids of the memristor jobs: their configs hash as upstream Sisyphus hashes any object (class name and
field values), so a default given explicitly is the default's job and rqmt is not hashed.

The vectors were computed with upstream Sisyphus (rwth-i6/sisyphus 21ba684) on the same script; our engine
must give the same ids.
"""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# job ids under upstream Sisyphus; device_index=3, dummy inputs as in SCRIPT
VECTORS = {
    "program_default": "memristor_asr/memristor/jobs/ProgramCrossbarsJob.lyNlefFuP8SJ",
    "program_ppc2": "memristor_asr/memristor/jobs/ProgramCrossbarsJob.4TMll58YwXNY",
    "program_ppc5": "memristor_asr/memristor/jobs/ProgramCrossbarsJob.wACNJtfVUE52",
    "program_tile64": "memristor_asr/memristor/jobs/ProgramCrossbarsJob.3zQ3Ui1kE161",
    "recog_default": "memristor_asr/recognition/jobs/RecognitionJob.blue2NRDrkW1",
    "recog_adc6": "memristor_asr/recognition/jobs/RecognitionJob.CisuWuCR3qGB",
    "recog_adc5": "memristor_asr/recognition/jobs/RecognitionJob.82DKBsGn0ts8",
    "recog_noise_off": "memristor_asr/recognition/jobs/RecognitionJob.I7lNGY4zbZF7",
}

SCRIPT = """
import json
from sisyphus import tk
from memristor_asr.memristor.config import ProgrammingConfig, ReadConfig
from memristor_asr.memristor.jobs import ProgramCrossbarsJob
from memristor_asr.recognition.jobs import RecognitionJob

ck = tk.Path("/dummy/checkpoint.pt")
ids = {}
def program(name, **kw):
    ids[name] = ProgramCrossbarsJob(checkpoint=ck, device_index=3, **kw)._sis_id()
program("program_default")
program("program_default_explicit", programming=ProgrammingConfig())
program("program_default_by_value", programming=ProgrammingConfig(pulses_per_cycle=50, tile_inputs=128))
program("program_default_rqmt", programming=ProgrammingConfig(), rqmt={"cpu": 4, "gpu": 1, "mem": 16, "time": 12})
program("program_ppc2", programming=ProgrammingConfig(pulses_per_cycle=2))
program("program_ppc5", programming=ProgrammingConfig(pulses_per_cycle=5))
program("program_tile64", programming=ProgrammingConfig(tile_inputs=64))
rec = dict(checkpoint=ck, features=tk.Path("/dummy/feat.hdf"), segments=tk.Path("/dummy/seg.jsonl.gz"),
           labels=tk.Path("/dummy/labels.txt"), lexicon=tk.Path("/dummy/lex.txt"), lm=tk.Path("/dummy/lm.bin"),
           prior=tk.Path("/dummy/prior.txt"), programmed_device=tk.Path("/dummy/crossbars.pt"), noise_seed=1)
def recog(name, **kw):
    ids[name] = RecognitionJob(**rec, **kw)._sis_id()
recog("recog_default")
recog("recog_default_none", read=None)
recog("recog_default_explicit", read=ReadConfig())
recog("recog_adc6", read=ReadConfig(output_precision_bits=6))
recog("recog_adc5", read=ReadConfig(output_precision_bits=5))
recog("recog_noise_off", read=ReadConfig(noise="off"))
try:
    ProgramCrossbarsJob(checkpoint=ck, device_index=0, programming={"pulses_per_cycle": 2})
except Exception as e:  # the job's own error, with a note naming the job and the line
    ids["dict_refused"] = str(e)
print(json.dumps(ids))
"""


def test_configs_hash_as_upstream_sisyphus_hashes_them(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO, p) for p in ("tools", "recipe", "")]))
    res = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    ids = json.loads(res.stdout.strip().splitlines()[-1])
    for name, want in VECTORS.items():
        assert ids[name] == want, name
    # a default config given explicitly (or field by field) is the same job as the default; rqmt is not hashed
    for alias in ("program_default_explicit", "program_default_by_value", "program_default_rqmt"):
        assert ids[alias] == VECTORS["program_default"], alias
    for alias in ("recog_default_none", "recog_default_explicit"):
        assert ids[alias] == VECTORS["recog_default"], alias
    # read settings are distinct recognitions
    assert len({ids["recog_default"], ids["recog_adc5"], ids["recog_adc6"], ids["recog_noise_off"]}) == 4
    assert "programming must be a ProgrammingConfig" in ids["dict_refused"]
