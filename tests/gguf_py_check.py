#!/usr/bin/python3
# gguf_py_check.py — reads the GGUF that our writer produced (tests/gguf_xcheck.c gen) with llama.cpp's gguf-py
# and checks: every metadata value (against DIR/expected.json, written from the same data the writer got), the
# tensor table and alignment, our dequantization of random blocks of every type against gguf.quants.dequantize
# (bit-exact or within 1 ulp), and our Q8_0 / BF16 / F16 encoders against gguf-py's. Prints PASS/FAIL/SKIP lines.
# usage: /usr/bin/python3 tests/gguf_py_check.py GGUF_PY_DIR DIR
import json
import sys

gguf_py, work = sys.argv[1], sys.argv[2]
try:
    import numpy as np
    sys.path.insert(0, gguf_py)
    from gguf import quants
    from gguf.constants import GGMLQuantizationType, GGUFValueType
    from gguf.gguf_reader import GGUFReader
except ImportError as e:
    print(f"SKIP gguf_py (numpy or gguf-py not importable: {e})")
    sys.exit(0)

failed = 0


def report(name, ok, detail=""):
    global failed
    print(f"{'PASS' if ok else 'FAIL'} {name}{' (' + detail + ')' if detail else ''}")
    failed += not ok


expected = json.load(open(f"{work}/expected.json"))
reader = GGUFReader(f"{work}/xcheck.gguf")

# ---- metadata: type and value of every key, nothing extra
problems = []
fields = {k: v for k, v in reader.fields.items() if not k.startswith("GGUF.")}
want_keys = [e["key"] for e in expected["kv"]]
if list(fields.keys()) != want_keys:
    problems.append(f"keys differ: {list(fields.keys())[:5]}... vs {want_keys[:5]}...")


def same_scalar(vt, got, want):
    if vt == GGUFValueType.FLOAT32:
        return np.float32(got) == np.float32(want)
    if vt == GGUFValueType.FLOAT64:
        return float(got) == float(want)
    if vt == GGUFValueType.BOOL:
        return bool(got) == bool(want)
    return int(got) == int(want)


for e in expected["kv"]:
    f = reader.fields.get(e["key"])
    if f is None:
        problems.append(f"{e['key']} missing")
        continue
    vt, at = GGUFValueType(e["type"]), GGUFValueType(e["arr_type"])
    if f.types[0] != vt:
        problems.append(f"{e['key']}: type {f.types[0]} != {vt}")
        continue
    got = f.contents()
    if vt == GGUFValueType.STRING:
        ok = got == bytes.fromhex(e["value"]).decode("utf-8")
    elif vt == GGUFValueType.ARRAY:
        want = e["value"]
        if want and f.types[-1] != at:
            problems.append(f"{e['key']}: element type {f.types[-1]} != {at}")
            continue
        if at == GGUFValueType.STRING:
            ok = [s for s in got] == [bytes.fromhex(h).decode("utf-8") for h in want]
        else:
            ok = len(got) == len(want) and all(same_scalar(at, g, w) for g, w in zip(got, want))
    else:
        ok = same_scalar(vt, got, e["value"])
    if not ok:
        problems.append(f"{e['key']}: value {str(got)[:80]} != expected {str(e['value'])[:80]}")
report("gguf_py_reads_our_metadata", not problems, "; ".join(problems[:3]) or f"{len(expected['kv'])} keys, every value type")

# ---- tensor table: names, types, shapes, sizes, 64-byte alignment honoured
tensors = {t.name: t for t in reader.tensors}
problems = []
if reader.alignment != 64:
    problems.append(f"alignment {reader.alignment}")
for t in reader.tensors:
    if (int(t.data_offset) - reader.data_offset) % 64 or reader.data_offset % 64:
        problems.append(f"{t.name} at {t.data_offset} not 64-aligned")
    if list(map(int, t.shape)) != [1024, 24]:
        problems.append(f"{t.name} shape {list(t.shape)}")
    if t.n_elements != 1024 * 24:
        problems.append(f"{t.name} n_elements {t.n_elements}")
for name in expected["tensors"]:
    for prefix, tt in (("raw.", GGMLQuantizationType[name]), ("deq.", GGMLQuantizationType.F32)):
        t = tensors.get(prefix + name)
        if t is None or t.tensor_type != tt:
            problems.append(f"{prefix}{name} missing or of type {t.tensor_type if t else None}")
report("gguf_py_tensor_table", not problems, "; ".join(problems[:3]) or f"{len(reader.tensors)} tensors")


def raw_bytes(t):
    return np.asarray(reader.data[int(t.data_offset): int(t.data_offset) + int(t.n_bytes)], dtype=np.uint8)


def as_f32(t):
    return raw_bytes(t).view(np.float32).reshape(24, 1024)


def ulps(a, b):
    # Distance in units in the last place between float32 arrays (NaN == NaN, +0 == -0).
    ia = a.view(np.int32).astype(np.int64)
    ib = b.view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, -(ia & 0x7FFFFFFF), ia)
    ib = np.where(ib < 0, -(ib & 0x7FFFFFFF), ib)
    d = np.abs(ia - ib)
    d[np.isnan(a) & np.isnan(b)] = 0
    d[np.isnan(a) ^ np.isnan(b)] = 1 << 40
    return d


# ---- dequantization of random blocks: ours (deq.T) vs gguf.quants.dequantize(raw.T), block by block
for name in expected["tensors"]:
    qt = GGMLQuantizationType[name]
    raw = raw_bytes(tensors["raw." + name]).reshape(24, -1)
    theirs = np.asarray(quants.dequantize(raw, qt), dtype=np.float32).reshape(24, 1024)
    ours = as_f32(tensors["deq." + name])
    d = ulps(ours, theirs)
    bs = 256 if name.endswith("_K") else 32 if name.startswith("Q") else 1
    blocks_off = int((d.reshape(-1, bs).max(axis=1) > 0).sum())
    worst = int(d.max())
    report(f"gguf_py_dequant_{name}", worst <= 1,
           f"max {worst} ulp, {blocks_off} of {24 * 1024 // bs} blocks not bit-exact")

# ---- encoders: our Q8_0 / BF16 / F16 bytes vs gguf-py's from the same f32 rows
src, srcx = as_f32(tensors["src"]), as_f32(tensors["srcx"])
theirs = np.asarray(quants.quantize(src, GGMLQuantizationType.Q8_0), dtype=np.uint8).reshape(-1)
ours = raw_bytes(tensors["ours.Q8_0"])
nblk = ours.size // 34
diff_blocks = int((theirs.reshape(nblk, 34) != ours.reshape(nblk, 34)).any(axis=1).sum())
report("gguf_py_quantize_Q8_0", diff_blocks == 0, f"{diff_blocks} of {nblk} blocks differ")

theirs_bf = np.asarray(quants.quantize(srcx, GGMLQuantizationType.BF16), dtype=np.uint8).reshape(-1).view(np.uint16)
ours_bf = raw_bytes(tensors["ours.BF16"]).view(np.uint16)
with np.errstate(over="ignore", invalid="ignore"):   # Inf and NaN inputs are deliberate
    theirs_h = srcx.astype(np.float16).reshape(-1)
ours_h = raw_bytes(tensors["ours.F16"]).view(np.float16)
nan_h = np.isnan(theirs_h)
bad_h = int(((theirs_h.view(np.uint16) != ours_h.view(np.uint16)) & ~nan_h).sum() + (np.isnan(ours_h) != nan_h).sum())
bad_bf = int((theirs_bf != ours_bf).sum())
report("gguf_py_bf16_f16_encode", bad_bf == 0 and bad_h == 0,
       f"{bad_bf} bf16 and {bad_h} f16 of {ours_bf.size} values differ (NaN, Inf, subnormal and random bits included)")

# ---- `qwen3-ptx info --json --full` on the same file agrees with gguf-py; a bad file gives one line and exit 1
import os
import subprocess
exe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qwen3-ptx")
if not os.path.exists(exe):
    print("SKIP info_json_matches_gguf_py (qwen3-ptx not built)")
else:
    problems = []
    r = subprocess.run([exe, "info", "--json", "--full", f"{work}/xcheck.gguf"], capture_output=True)
    try:
        info = json.loads(r.stdout.decode("utf-8"))
    except ValueError as e:
        info = None
        problems.append(f"not JSON ({e}); rc {r.returncode}")
    if info is not None:
        if info["alignment"] != reader.alignment or info["data_offset"] != reader.data_offset:
            problems.append("alignment/data_offset")
        for e in expected["kv"]:
            m = info["metadata"].get(e["key"])
            f = reader.fields[e["key"]]
            got = f.contents()
            if m is None:
                problems.append(f"{e['key']} missing")
                continue
            vt = GGUFValueType(e["type"])
            v = m.get("values", m.get("value"))
            if vt == GGUFValueType.ARRAY:
                at = GGUFValueType(e["arr_type"])
                ok = m["count"] == len(got) and len(v) == len(got) and all(
                    (g == w) if at == GGUFValueType.STRING else same_scalar(at, g, w) for g, w in zip(got, v))
            elif vt == GGUFValueType.STRING:
                ok = v == got
            else:
                ok = same_scalar(vt, got, v)
            if not ok:
                problems.append(f"{e['key']}: info says {str(v)[:60]}, gguf-py {str(got)[:60]}")
        tt = [(t["name"], t["type"], t["shape"], t["offset"], t["bytes"]) for t in info["tensors"]]
        gt = [(t.name, t.tensor_type.name, list(map(int, t.shape)), int(t.data_offset) - reader.data_offset, int(t.n_bytes))
              for t in reader.tensors]
        if tt != gt:
            problems.append(f"tensor table differs: {tt[:2]} vs {gt[:2]}")
    r = subprocess.run([exe, "info", f"{work}/expected.json"], capture_output=True)
    err = r.stderr.decode("utf-8", "replace")
    if r.returncode != 1 or err.count("\n") != 1 or not err.startswith(f"qwen3-ptx: {work}/expected.json: "):
        problems.append(f"bad file: rc {r.returncode}, stderr {err!r}")
    r = subprocess.run([exe, "info", f"{work}/xcheck.gguf"], capture_output=True)
    if r.returncode != 0 or b"tokenizer.ggml.tokens" not in r.stdout:
        problems.append(f"text mode: rc {r.returncode}")
    report("info_json_matches_gguf_py", not problems, "; ".join(problems[:3]))
sys.exit(1 if failed else 0)
