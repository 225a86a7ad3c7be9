"""The study's job graph is wired right, recognition by recognition (builds only, runs nothing).

test_graph.py counts jobs per class; this checks what every RecognitionJob reads, by following the
identity of the tk.Paths (``path.creator`` is the job that makes it): the checkpoint of its system
(float, QAT-n, PTQ-n of the float model of the same seed, or QAT-n on programmed crossbars with
device k and read-noise seed k), the prior computed from that checkpoint (PTQ: the float model's),
the setup's scale grids (read from the ``StudySetup``), the features and segments of its split, the
ScliteJob scoring each grid point against that split's STM, and the table and plot jobs' inputs
(each table cell gets the scores of its own system, seed, device and grid point, the same grid
point on every split).

The graph is built in a subprocess (this file run as a script): the Sisyphus graph is global. The
ci and mini grids give QAT and PTQ the same prior scales, so one ci case uses grids that tell the
systems apart (and two training seeds, so that a model of the wrong seed is caught too).
"""
import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PREFIX = "memristor_ted"
ALIAS = re.compile(rf"^{PREFIX}/recog/(?P<split>[^/]+)/(?P<kind>float|qat|ptq|memristor)(?P<bits>\d*)"
                   r"(?:/seed(?P<seed>\d+))?(?:/device(?P<device>\d+))?$")


def _name(job) -> str:
    aliases = sorted(job.get_aliases() or [])
    return f"{job._sis_id()} [{', '.join(aliases) or 'no alias'}]"


def _path(p) -> str:
    """A tk.Path for a message: the job that makes it and the file."""
    if p is None:
        return "None"
    creator = getattr(p, "creator", None)
    return f"{_name(creator)}:{p.path}" if creator is not None else repr(p)


def pkey(p):
    """What identifies an output: the job that makes it (jobs are singletons) and its file.

    A job's arguments are deep copies (the same creator, a new tk.Path object), so outputs are
    compared by creator identity and path, not by object identity.
    """
    return None if p is None or getattr(p, "creator", None) is None else (id(p.creator), p.path)


def same(a, b) -> bool:
    """``a`` and ``b`` are the same output of the same job (None is nobody's output)."""
    return pkey(a) is not None and pkey(a) == pkey(b)


# scale grids that tell every system apart (in ci and mini the QAT and PTQ prior grids are the same)
DISTINCT_GRIDS = dict(lm_scales=(1.5, 2.5), qat_prior_scales=(0.3, 0.6), ptq_prior_scales=(0.7, 0.9, 1.1),
                      memristor_scales=(2.2, 0.4))


def check_wiring(profile: str, corpus_root, num_seeds: int, distinct_grids: bool = False):
    """Build the graph of the shipped setup ``profile`` (with ``num_seeds`` training seeds, and
    ``DISTINCT_GRIDS`` when ``distinct_grids``) and check it against that setup; returns (sorted errors, facts)."""
    import dataclasses

    from sisyphus import tk

    import users.memristor.memristor_ted as study
    from memristor_asr.recognition.jobs import grid_key
    from users.memristor.setups import setup_named

    exp = dataclasses.replace(setup_named(profile), num_seeds=num_seeds, **(DISTINCT_GRIDS if distinct_grids else {}))
    prof = exp.training
    outputs = study.run_memristor_ted(exp, corpus_root=tk.Path(corpus_root) if corpus_root else None,
                                      prefix=PREFIX).tables
    jobs = list(tk.sis_graph.jobs())
    by_type = defaultdict(list)
    for j in jobs:
        by_type[type(j).__name__].append(j)
    errors = []
    err = errors.append
    splits = tuple(exp.eval_splits)
    seeds = [prof.train.seed + i for i in range(exp.num_seeds)]

    # ------------------------------------------------------------------ data of each split
    (prep,) = by_type["PrepareTedliumJob"]
    split_segments = {s: prep.out_segments[s] for s in splits}
    split_stm = {s: prep.out_stm[s] for s in splits}

    # ------------------------------------------------------------------ trainings and priors
    ckpt = {}  # (bits or None, seed) -> TrainJob.out_checkpoint
    trains = {}
    for t in by_type["TrainJob"]:
        key = (t.model_config.weight_bits, t.train_config.seed)
        if key in ckpt:
            err(f"{_name(t)} and {_name(trains[key])}: two TrainJobs for weight_bits={key[0]} seed={key[1]}")
        ckpt[key], trains[key] = t.out_checkpoint, t
    expected_trainings = {(b, s) for b in (None,) + tuple(prof.qat_bits) for s in seeds}
    if set(ckpt) != expected_trainings:
        err(f"TrainJobs (weight_bits, seed): {sorted(ckpt, key=str)}, expected {sorted(expected_trainings, key=str)}")
    for (bits, seed), t in trains.items():
        if bits is None:
            continue
        want = ckpt.get((None, seed)) if prof.qat_finetune is not None else None
        if not (t.init_checkpoint is None if want is None else same(t.init_checkpoint, want)):
            err(f"{_name(t)} (QAT-{bits}, seed {seed}): init_checkpoint {_path(t.init_checkpoint)}, "
                f"expected {_path(want)}")
    priors = defaultdict(list)  # pkey(checkpoint) -> PriorJobs
    for p in by_type["PriorJob"]:
        priors[pkey(p.checkpoint)].append(p)
        creator = p.checkpoint.creator
        if type(creator).__name__ != "TrainJob":
            err(f"{_name(p)}: prior of {_path(p.checkpoint)}, not of a TrainJob's checkpoint")
        elif not same(p.features, creator.train_features):
            err(f"{_name(p)}: computed on {_path(p.features)}, not on its model's train features "
                f"{_path(creator.train_features)}")

    def prior_of(checkpoint):
        found = priors.get(pkey(checkpoint), [])
        return found[0].out_prior if len(found) == 1 else None

    # ------------------------------------------------------------------ scoring
    sclite_of = defaultdict(list)  # pkey(ctm) -> ScliteJobs
    for sc in by_type["ScliteJob"]:
        sclite_of[pkey(sc.hyp)].append(sc)
        if type(sc.hyp.creator).__name__ != "RecognitionJob":
            err(f"{_name(sc)}: scores {_path(sc.hyp)}, not a RecognitionJob's CTM")

    # ------------------------------------------------------------------ every recognition
    systems = {}   # (split, kind, bits, seed, device) -> RecognitionJob
    identity = {}  # id(RecognitionJob) -> (split, kind, bits, seed, device)
    devices = defaultdict(list)  # (bits, seed, split) -> [(device from alias, device_index, noise_seed)]
    program_of = {}  # (bits, seed, device) -> ProgramCrossbarsJob (the same device on every split)
    shared = defaultdict(set)
    for r in by_type["RecognitionJob"]:
        aliases = sorted(r.get_aliases() or [])
        match = ALIAS.match(aliases[0]) if len(aliases) == 1 else None
        if match is None:
            err(f"{_name(r)}: expected exactly one alias {PREFIX}/recog/<split>/<system>, got {aliases}")
            continue
        split, kind = match["split"], match["kind"]
        bits = int(match["bits"]) if match["bits"] else None
        seed = int(match["seed"]) if match["seed"] else seeds[0]
        device = int(match["device"]) if match["device"] is not None else None
        key = (split, kind, bits, seed, device)
        systems[key], identity[id(r)] = r, key
        what = f"{_name(r)} ({kind}{bits or ''}, seed {seed}, {split}" + (f", device {device})" if device is not None
                                                                          else ")")
        for attr in ("labels", "lexicon", "lm"):
            shared[attr].add(pkey(getattr(r, attr)))
        if r.search != exp.search:
            err(f"{what}: search {r.search}, expected the profile's {exp.search}")

        # the split
        if split not in splits:
            err(f"{what}: split {split!r} is not one of the profile's eval_splits {splits}")
            continue
        if not same(r.segments, split_segments[split]):
            err(f"{what}: segments {_path(r.segments)}, expected the {split} segments {_path(split_segments[split])}")
        feat = getattr(r.features, "creator", None)
        if type(feat).__name__ != "LogMelFeatureJob" or not same(feat.segments, split_segments[split]):
            err(f"{what}: features {_path(r.features)} are not the log-mel features of the {split} segments")

        # checkpoint, prior, scales
        if kind == "float":
            want_ckpt, want_prior = ckpt.get((None, seed)), prior_of(ckpt.get((None, seed)))
            want_scales = (list(exp.lm_scales), list(exp.qat_prior_scales))
        elif kind == "qat":
            if bits not in prof.qat_bits:
                err(f"{what}: {bits} bits are not among the profile's qat_bits {prof.qat_bits}")
            want_ckpt = ckpt.get((bits, seed))
            want_prior = prior_of(want_ckpt)
            want_scales = (list(exp.lm_scales), list(exp.qat_prior_scales))
        elif kind == "ptq":
            if bits not in prof.ptq_bits:
                err(f"{what}: {bits} bits are not among the profile's ptq_bits {prof.ptq_bits}")
            ptq = getattr(r.checkpoint, "creator", None)
            want_ckpt = r.checkpoint
            if type(ptq).__name__ != "PTQJob" or not same(r.checkpoint, ptq.out_checkpoint):
                err(f"{what}: checkpoint {_path(r.checkpoint)} is not a PTQJob's out_checkpoint")
                want_ckpt = None
            else:
                if not same(ptq.float_checkpoint, ckpt.get((None, seed))):
                    err(f"{what}: {_name(ptq)} quantises {_path(ptq.float_checkpoint)}, expected the float model "
                        f"of seed {seed} {_path(ckpt.get((None, seed)))}")
                if ptq.weight_bits != bits:
                    err(f"{what}: {_name(ptq)} has weight_bits={ptq.weight_bits}, expected {bits}")
                if not same(ptq.train_features, trains[(None, seed)].train_features):
                    err(f"{what}: {_name(ptq)} calibrates on {_path(ptq.train_features)}, not the train features")
            want_prior = prior_of(ckpt.get((None, seed)))  # the float model's prior
            want_scales = (list(exp.lm_scales), list(exp.ptq_prior_scales))
        else:  # memristor
            if bits not in exp.memristor_bits or bits not in prof.qat_bits:
                err(f"{what}: {bits} bits are not among the memristor_bits {exp.memristor_bits} of QAT models")
            want_ckpt = ckpt.get((bits, seed))
            want_prior = prior_of(want_ckpt)
            want_scales = ([exp.memristor_scales[0]], [exp.memristor_scales[1]])
            prog = getattr(r.programmed_device, "creator", None)
            if type(prog).__name__ != "ProgramCrossbarsJob" or not same(r.programmed_device, prog.out_device):
                err(f"{what}: programmed_device {_path(r.programmed_device)} is not a ProgramCrossbarsJob's out_device")
                devices[(bits, seed, split)].append((device, None, r.noise_seed))
            else:
                if not same(prog.checkpoint, want_ckpt):
                    err(f"{what}: {_name(prog)} programs {_path(prog.checkpoint)}, expected the QAT-{bits} model "
                        f"of seed {seed} {_path(want_ckpt)}")
                if prog.device_index != device:
                    err(f"{what}: {_name(prog)} has device_index={prog.device_index}, expected {device}")
                if program_of.setdefault((bits, seed, device), prog) is not prog:
                    err(f"{what}: device {device} of QAT-{bits} seed {seed} is {_name(prog)} here and "
                        f"{_name(program_of[(bits, seed, device)])} on another split")
                devices[(bits, seed, split)].append((device, prog.device_index, r.noise_seed))
            if r.noise_seed != device:
                err(f"{what}: noise_seed={r.noise_seed}, expected the device index {device}")
        if kind != "memristor" and r.programmed_device is not None:
            err(f"{what}: a {kind} recognition with programmed_device {_path(r.programmed_device)}")
        if not same(r.checkpoint, want_ckpt):
            err(f"{what}: checkpoint {_path(r.checkpoint)}, expected {_path(want_ckpt)}")
        if not same(r.prior, want_prior):
            err(f"{what}: prior {_path(r.prior)}, expected the prior of "
                f"{'the float model' if kind == 'ptq' else 'its checkpoint'} {_path(want_prior)}")
        if (r.lm_scales, r.prior_scales) != want_scales:
            err(f"{what}: scales lm={r.lm_scales} prior={r.prior_scales}, expected lm={want_scales[0]} "
                f"prior={want_scales[1]}")
        want_empty = None if kind == "ptq" else exp.max_empty_fraction
        if r.max_empty_fraction != want_empty:
            err(f"{what}: max_empty_fraction={r.max_empty_fraction}, expected {want_empty}")

        # one ScliteJob per grid point, against the split's STM
        want_keys = [grid_key(lm_s, pr_s) for lm_s in r.lm_scales for pr_s in r.prior_scales]
        if list(r.out_ctm) != want_keys:
            err(f"{what}: CTMs {list(r.out_ctm)}, expected one per grid point {want_keys}")
        for gk, ctm in r.out_ctm.items():
            scored = sclite_of.get(pkey(ctm), [])
            if len(scored) != 1:
                err(f"{what}: {len(scored)} ScliteJobs score the {gk} CTM, expected 1")
            for sc in scored:
                if not same(sc.ref, split_stm[split]):
                    err(f"{what}: {_name(sc)} scores the {gk} CTM against {_path(sc.ref)}, expected the {split} "
                        f"STM {_path(split_stm[split])}")

    for attr, ids in shared.items():
        if len(ids) != 1:
            err(f"the recognitions read {len(ids)} different {attr}s, expected the study's one")

    # every system on every split exactly once; devices 0..n-1 once per split
    expected = set()
    for split in splits:
        for seed in seeds:
            expected.add((split, "float", None, seed, None))
            expected |= {(split, "ptq", b, seed, None) for b in prof.ptq_bits}
            expected |= {(split, "qat", b, seed, None) for b in prof.qat_bits}
            expected |= {(split, "memristor", b, seed, k) for b in prof.qat_bits if b in exp.memristor_bits
                         for k in range(exp.num_devices)}
    if set(systems) != expected:
        err(f"recognitions missing: {sorted(expected - set(systems), key=str)}; "
            f"unexpected: {sorted(set(systems) - expected, key=str)}")
    for (bits, seed, split), runs in sorted(devices.items()):
        for pos, label in ((1, "device_index"), (2, "noise_seed")):
            values = sorted(run[pos] for run in runs if run[pos] is not None)
            if values != list(range(exp.num_devices)):
                err(f"memristor QAT-{bits} seed {seed} on {split}: {label}s {values}, expected each of "
                    f"range({exp.num_devices}) once")

    idle = [_name(j) for j in by_type["ProgramCrossbarsJob"] if all(j is not q for q in program_of.values())]
    if idle:
        err(f"{len(idle)} programmed devices no memristor recognition reads, e.g. {idle[:3]}")

    # ------------------------------------------------------------------ tables and plot
    used = set()  # (id(RecognitionJob), grid key) read by a table

    def resolve(point, where, kind, bits, seed, device):
        """Check one grid point {split: segment scores}; returns its grid key (the same on every split)."""
        if set(point) != set(splits):
            err(f"{where}: a grid point with splits {sorted(point)}, expected {list(splits)}")
        keys = set()
        for split, scores in point.items():
            sc = getattr(scores, "creator", None)
            if type(sc).__name__ != "ScliteJob" or not same(scores, sc.out_segment_scores):
                err(f"{where} [{split}]: {_path(scores)} is not a ScliteJob's out_segment_scores")
                continue
            r = sc.hyp.creator
            got = identity.get(id(r))
            want = (split, kind, bits, seed, device)
            if got != want:
                err(f"{where} [{split}]: reads {_name(sc)} of {_name(r) if r is not None else None}, "
                    f"expected the recognition of {want}")
            gk = [k for k, ctm in getattr(r, "out_ctm", {}).items() if same(ctm, sc.hyp)]
            keys.update(gk)
            used.update((id(r), k) for k in gk)
        if len(keys) != 1:
            err(f"{where}: grid points {sorted(keys)} on the splits, expected the same one on every split")
        return next(iter(keys), None)

    def tuned(per_seed, where, kind, bits):
        if len(per_seed) != len(seeds):
            err(f"{where}: {len(per_seed)} seeds, expected {len(seeds)}")
        for seed, grid in zip(seeds, per_seed):
            r = systems.get((splits[0], kind, bits, seed, None))
            want = list(r.out_ctm) if r is not None else []
            got = [resolve(p, f"{where} seed {seed}", kind, bits, seed, None) for p in grid]
            if got != want:
                err(f"{where} seed {seed}: grid points {got}, expected every grid point once {want}")

    def on_devices(per_seed, where, bits):
        if len(per_seed) != len(seeds):
            err(f"{where}: {len(per_seed)} seeds, expected {len(seeds)}")
        want = [grid_key(*exp.memristor_scales)]
        for seed, runs in zip(seeds, per_seed):
            if len(runs) != exp.num_devices:
                err(f"{where} seed {seed}: {len(runs)} devices, expected {exp.num_devices}")
            for k, p in enumerate(runs):
                got = resolve(p, f"{where} seed {seed} device {k}", "memristor", bits, seed, k)
                if [got] != want:
                    err(f"{where} seed {seed} device {k}: grid point {got}, expected {want[0]}")

    table2, table3, plot = outputs["table2"], outputs["table3"], outputs["plot"]
    for cls, job in (("Table2Job", table2), ("Table3Job", table3), ("WerPlotJob", plot)):
        if len(by_type[cls]) != 1 or by_type[cls][0] is not job:
            err(f"{len(by_type[cls])} {cls}s in the graph, expected the one run_memristor_ted returns")
        if tuple(job.splits) != splits:
            err(f"{_name(job)}: splits {job.splits}, expected {splits}")
        tuned(job.baseline, f"{_name(job)}.baseline", "float", None)
    for job in (table2, plot):
        for kind, cell, bits_list in (("ptq", job.ptq, prof.ptq_bits), ("qat", job.qat, prof.qat_bits)):
            if sorted(cell) != sorted(bits_list):
                err(f"{_name(job)}.{kind}: bits {sorted(cell)}, expected {sorted(bits_list)}")
            for bits, per_seed in cell.items():
                tuned(per_seed, f"{_name(job)}.{kind}[{bits}]", kind, bits)
    for job in (table3, plot):
        want_bits = sorted(b for b in prof.qat_bits if b in exp.memristor_bits)
        if sorted(job.devices) != want_bits:
            err(f"{_name(job)}.devices: bits {sorted(job.devices)}, expected {want_bits}")
        for bits, per_seed in job.devices.items():
            on_devices(per_seed, f"{_name(job)}.devices[{bits}]", bits)
    unused = [f"{_name(r)} {k}" for r in by_type["RecognitionJob"] for k in r.out_ctm if (id(r), k) not in used]
    if unused:
        err(f"{len(unused)} recognition grid points reach no table, e.g. {unused[:3]}")

    facts = {"recognitions": len(by_type["RecognitionJob"]), "expected_recognitions": len(expected),
             "scored": len(by_type["ScliteJob"]), "grid_points": sum(len(r.out_ctm) for r in by_type["RecognitionJob"]),
             "devices": len(by_type["ProgramCrossbarsJob"]),
             "expected_devices": len(seeds) * len([b for b in prof.qat_bits if b in exp.memristor_bits]) * exp.num_devices}
    return sorted(errors), facts


# (profile, corpus root or "-" for the embedded corpus, training seeds, DISTINCT_GRIDS); two seeds: a
# PTQ/QAT/memristor system wired to the other seed's model fails
CASES = [("paper", "/data/TEDLIUM_release2", 1, False), ("mini", "-", 1, False), ("ci", "-", 1, False),
         ("ci", "-", 2, True)]


@pytest.mark.parametrize("profile, root, num_seeds, distinct", CASES,
                         ids=[f"{p}-seeds{n}" + ("-distinct-grids" if d else "") for p, _, n, d in CASES])
def test_every_recognition_is_wired_to_its_system(tmp_path, profile, root, num_seeds, distinct):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO, p) for p in ("tools", "recipe", "")]))
    res = subprocess.run([sys.executable, os.path.abspath(__file__), profile, root, str(num_seeds), str(int(distinct))],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout.strip().splitlines()[-1])
    errors = report["errors"]
    assert not errors, f"{len(errors)} wiring errors in the {profile} graph:\n" + "\n".join(errors[:40])
    facts = report["facts"]
    assert facts["recognitions"] == facts["expected_recognitions"] > 0
    assert facts["scored"] == facts["grid_points"] >= facts["recognitions"]  # one ScliteJob per grid point
    assert facts["devices"] == facts["expected_devices"] > 0  # per QAT model one job per device


if __name__ == "__main__":
    start = time.time()
    errs, info = check_wiring(sys.argv[1], None if sys.argv[2] == "-" else sys.argv[2], int(sys.argv[3]),
                              bool(int(sys.argv[4])))
    info["seconds"] = round(time.time() - start, 1)
    print(json.dumps({"errors": errs, "facts": info}))
