#!/usr/bin/env python3
"""hf_reference.py — the independent reference: HF transformers' Qwen3ForCausalLM built from a GGUF's metadata and
loaded with the GGUF's own tensors, run on the same seeded random tokens as `qwen3-ptx logits --random N --seed S`.

  hf_reference.py MODEL.gguf --tokens-seed S --n N --out ref.f32       write N x vocab float32 logits
  hf_reference.py MODEL.gguf --tokens-seed S --n N --compare ours.f32  compare ours against HF (or --ref ref.f32)
  hf_reference.py MODEL.gguf --golden tests/golden/tiny.txt            write the small golden file test_cpu reads
  hf_reference.py MODEL.gguf --tokens-seed S --n N --out ref.f32 --sim-fp8 w128x128_a1x128,a1x128
                                                                     also HF with e4m3 simulated: ref.f32.MODE.f32

Needs torch + transformers (5.x) and numpy; gguf-py comes from llama.cpp's source (build/llama.cpp/gguf-py, put on
sys.path here; transformers' own GGUF loader rejects it). F32/F16/BF16 tensors are read straight from the memmap;
quantized ones go through gguf.quants.dequantize.
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
for p in (os.path.join(HERE, "..", "build", "llama.cpp", "gguf-py"), os.environ.get("GGUF_PY", "")):
    if p and os.path.isdir(p):
        sys.path.insert(0, p)
import gguf  # noqa: E402

# ---------------------------------------------------------------- the shared random tokens
# host/util.c's rng_seed (splitmix64 x4) + xoshiro256**; id = rng_u64() % vocab (host/synth.c synth_random_tokens)
M64 = (1 << 64) - 1


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class Rng:
    def __init__(self, seed):
        x, self.s = seed & M64, []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    def u64(self):
        s = self.s
        out = (_rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return out


def random_tokens(seed, n, vocab):
    r = Rng(seed)
    return [r.u64() % vocab for _ in range(n)]


# ---------------------------------------------------------------- GGUF -> config and tensors
def field(reader, key, default=None):
    f = reader.fields.get(key)
    if f is None:
        if default is None:
            sys.exit(f"hf_reference: missing key {key}")
        return default
    return f.contents()


def read_config(reader):
    arch = field(reader, "general.architecture")
    if arch != "qwen3":
        sys.exit(f"hf_reference: architecture is '{arch}', expected 'qwen3'")
    names = {t.name: t for t in reader.tensors}
    emb = names["token_embd.weight"]
    n_head = int(field(reader, "qwen3.attention.head_count"))
    dim = int(field(reader, "qwen3.embedding_length"))
    c = dict(
        vocab=int(emb.shape[1]),  # ggml order: ne0 = dim, ne1 = vocab
        dim=dim,
        ffn=int(field(reader, "qwen3.feed_forward_length")),
        n_layer=int(field(reader, "qwen3.block_count")),
        n_head=n_head,
        n_kv=int(field(reader, "qwen3.attention.head_count_kv", n_head)),
        head_dim=int(field(reader, "qwen3.attention.key_length", dim // n_head)),
        ctx=int(field(reader, "qwen3.context_length")),
        eps=float(field(reader, "qwen3.attention.layer_norm_rms_epsilon")),
        base=float(field(reader, "qwen3.rope.freq_base", 10000.0)),
        tied="output.weight" not in names,
    )
    return c


def hf_name(name):
    """GGUF tensor name -> HF Qwen3ForCausalLM parameter name."""
    fixed = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
             "output.weight": "lm_head.weight"}
    if name in fixed:
        return fixed[name]
    blk, n, part, w = name.split(".")
    assert blk == "blk" and w == "weight", name
    sub = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
           "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
           "attn_output": "self_attn.o_proj", "attn_q_norm": "self_attn.q_norm", "attn_k_norm": "self_attn.k_norm",
           "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}[part]
    return f"model.layers.{n}.{sub}.weight"


def tensor_torch(reader, t):
    """The tensor as a torch CPU tensor in PyTorch's shape (reversed ggml shape), without copying F32/F16/BF16."""
    import torch
    shape = tuple(int(x) for x in reversed(t.shape))
    T = gguf.GGMLQuantizationType
    raw = reader.data[t.data_offset:t.data_offset + t.n_bytes]
    if t.tensor_type == T.F32:
        return torch.from_numpy(np.asarray(raw).view(np.float32).reshape(shape))
    if t.tensor_type == T.F16:
        return torch.from_numpy(np.asarray(raw).view(np.float16).reshape(shape))
    if t.tensor_type == T.BF16:
        return torch.from_numpy(np.asarray(raw).view(np.int16).reshape(shape)).view(torch.bfloat16)
    return torch.from_numpy(np.ascontiguousarray(gguf.quants.dequantize(t.data, t.tensor_type)).reshape(shape))


def tensor_numpy(reader, t):
    """The tensor as float64 numpy in PyTorch's shape (for the --numpy cross-check of this script's own reading)."""
    shape = tuple(int(x) for x in reversed(t.shape))
    T = gguf.GGMLQuantizationType
    raw = np.asarray(reader.data[t.data_offset:t.data_offset + t.n_bytes])
    if t.tensor_type == T.F32:
        a = raw.view(np.float32)
    elif t.tensor_type == T.F16:
        a = raw.view(np.float16)
    elif t.tensor_type == T.BF16:
        a = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    else:
        a = gguf.quants.dequantize(t.data, t.tensor_type)
    return a.reshape(shape).astype(np.float64)


def numpy_logits(path, tokens):
    """A plain float64 numpy Qwen3 forward: checks this script's GGUF reading (names, shapes, transposes)
    without torch; HF transformers remains the independent reference."""
    reader = gguf.GGUFReader(path)
    c = read_config(reader)
    names = {t.name: t for t in reader.tensors}
    W = lambda n: tensor_numpy(reader, names[n])  # noqa: E731

    def norm(x, w):
        return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + c["eps"]) * w

    T, hd, H, KV = len(tokens), c["head_dim"], c["n_head"], c["n_kv"]
    emb = W("token_embd.weight")
    x = emb[tokens]
    inv = 1.0 / c["base"] ** (np.arange(0, hd, 2) / hd)
    ang = np.arange(T)[:, None] * inv[None, :]                      # (T, hd/2)
    cos, sin = np.concatenate([np.cos(ang)] * 2, 1), np.concatenate([np.sin(ang)] * 2, 1)

    def rope(v):                                                   # v (T, heads, hd), rotate_half layout
        rot = np.concatenate([-v[..., hd // 2:], v[..., :hd // 2]], -1)
        return v * cos[:, None, :] + rot * sin[:, None, :]

    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(c["n_layer"]):
        b = f"blk.{l}."
        h = norm(x, W(b + "attn_norm.weight"))
        q = (h @ W(b + "attn_q.weight").T).reshape(T, H, hd)
        k = (h @ W(b + "attn_k.weight").T).reshape(T, KV, hd)
        v = (h @ W(b + "attn_v.weight").T).reshape(T, KV, hd)
        q, k = rope(norm(q, W(b + "attn_q_norm.weight"))), rope(norm(k, W(b + "attn_k_norm.weight")))
        k, v = np.repeat(k, H // KV, axis=1), np.repeat(v, H // KV, axis=1)  # GQA: consecutive heads share
        s = np.einsum("thd,shd->hts", q, k) / np.sqrt(hd) + mask
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        att = np.einsum("hts,shd->thd", p, v).reshape(T, H * hd)
        x = x + att @ W(b + "attn_output.weight").T
        h = norm(x, W(b + "ffn_norm.weight"))
        g, u = h @ W(b + "ffn_gate.weight").T, h @ W(b + "ffn_up.weight").T
        x = x + (g / (1 + np.exp(-g)) * u) @ W(b + "ffn_down.weight").T
    x = norm(x, W("output_norm.weight"))
    head = emb if c["tied"] else W("output.weight")
    return (x @ head.T).astype(np.float32), c


def build_model(path, dtype_name, device):
    import warnings
    import torch
    import transformers
    from transformers import Qwen3Config, Qwen3ForCausalLM
    warnings.filterwarnings("ignore", message=".*not writable.*")  # read-only memmap views, copied at once
    torch.backends.cuda.matmul.allow_tf32 = False   # fp32 must mean fp32: no TF32 tensor-core shortcuts
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype_name]
    t0 = time.time()
    reader = gguf.GGUFReader(path)
    c = read_config(reader)
    kw = dict(vocab_size=c["vocab"], hidden_size=c["dim"], intermediate_size=c["ffn"],
              num_hidden_layers=c["n_layer"], num_attention_heads=c["n_head"], num_key_value_heads=c["n_kv"],
              head_dim=c["head_dim"], max_position_embeddings=c["ctx"], rms_norm_eps=c["eps"],
              tie_word_embeddings=c["tied"], attention_bias=False, use_sliding_window=False, hidden_act="silu")
    try:  # transformers 5.x keeps RoPE settings in rope_parameters; older ones take rope_theta
        cfg = Qwen3Config(**kw, rope_parameters={"rope_type": "default", "rope_theta": c["base"]})
    except TypeError:
        cfg = Qwen3Config(**kw, rope_theta=c["base"])
    if getattr(cfg, "rope_theta", c["base"]) != c["base"] and \
            (getattr(cfg, "rope_parameters", None) or {}).get("rope_theta") != c["base"]:
        cfg.rope_theta = c["base"]
    try:
        cfg._attn_implementation = "eager"  # plain softmax(QK^T)V in the model's dtype
    except Exception:  # noqa: BLE001 — sdpa in float32 is fine too
        pass
    prev = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        from transformers.initialization import no_init_weights  # 5.x
    except ImportError:
        try:
            from transformers.modeling_utils import no_init_weights
        except ImportError:
            import contextlib
            no_init_weights = contextlib.nullcontext
    with torch.device(device), no_init_weights():
        model = Qwen3ForCausalLM(cfg)
    torch.set_default_dtype(prev)
    model.eval()
    if c["tied"]:  # transformers 5 ties only in from_pretrained/post_init paths; tie explicitly (one Parameter)
        model.lm_head.weight = model.model.embed_tokens.weight
    params = dict(model.named_parameters())
    loaded = set()
    with torch.no_grad():
        for t in reader.tensors:
            n = hf_name(t.name)
            if n not in params:
                sys.exit(f"hf_reference: {t.name} -> {n}: no such parameter")
            src = tensor_torch(reader, t)
            if tuple(src.shape) != tuple(params[n].shape):
                sys.exit(f"hf_reference: {t.name}: shape {tuple(src.shape)} vs HF {tuple(params[n].shape)}")
            params[n].copy_(src)
            loaded.add(n)
    missing = [n for n in params if n not in loaded]
    if missing:
        sys.exit(f"hf_reference: parameters not in the GGUF: {missing[:5]}")
    if c["tied"] and model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr():
        sys.exit("hf_reference: tied model but lm_head is not the embedding")
    # RoPE base and head_dim are easy to get silently wrong: check the frequencies HF will use.
    rot = getattr(model.model, "rotary_emb", None)
    if rot is not None and hasattr(rot, "inv_freq"):
        hd = c["head_dim"]
        want = 1.0 / (c["base"] ** (np.arange(0, hd, 2) / hd))
        got = rot.inv_freq.detach().float().cpu().numpy()
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-5):
            sys.exit(f"hf_reference: HF RoPE frequencies differ from base {c['base']} head_dim {hd}")
    print(f"hf_reference: {os.path.basename(path)}: {c['n_layer']} layers dim {c['dim']} ffn {c['ffn']} heads "
          f"{c['n_head']}/{c['n_kv']}x{c['head_dim']} vocab {c['vocab']} {'tied' if c['tied'] else 'untied'}; "
          f"transformers {transformers.__version__} torch {torch.__version__} {dtype_name} on {device}; "
          f"loaded in {time.time() - t0:.1f} s", file=sys.stderr)
    return model, c


def run_logits(model, tokens, device):
    import torch
    t0 = time.time()
    with torch.no_grad():
        ids = torch.tensor([tokens], dtype=torch.long, device=device)
        out = model(input_ids=ids, use_cache=False).logits[0].float().cpu().numpy()
    print(f"hf_reference: forward of {len(tokens)} tokens in {time.time() - t0:.2f} s", file=sys.stderr)
    return out


# ---------------------------------------------------------------- FP8 simulated in HF (issue 5's quality bar)
# What e4m3 itself costs, independently of our kernels: every linear layer but the head takes its weights through
# e4m3 with one scale per block of WR x WC (rows x K) and/or its input with one scale per token per 128 channels
# (scale = amax / 448, as quant_w_fp8 / quant_act_fp8), then multiplies in float32. Modes, comma-separated:
#   w128x128_a1x128  DeepSeek-V3's recipe, ours (--dtype fp8 with the bf16 head)
#   w1x128_a1x128    finer weight scales: one per output row per 128 of K
#   w128x128         weights only (activations float32)
#   a1x128           activations only
SIM_MODES = ("w128x128_a1x128", "w1x128_a1x128", "w128x128", "a1x128")


def qdq_e4m3(x, rows, cols):
    """x (R, C) float32 through e4m3 with one scale per rows x cols block (R % rows == C % cols == 0)."""
    import torch
    R, C = x.shape
    b = x.reshape(R // rows, rows, C // cols, cols)
    amax = b.abs().amax(dim=(1, 3), keepdim=True)
    sc = torch.where(amax > 0, amax / 448.0, torch.ones_like(amax))
    return ((b / sc).to(torch.float8_e4m3fn).to(torch.float32) * sc).reshape(R, C)


def simulate_fp8(model, mode):
    """Patch every nn.Linear of the decoder layers (not the head) to mode; mode None restores them."""
    import torch
    import torch.nn.functional as F
    w = {"w128x128": (128, 128), "w1x128": (1, 128)}
    parts = mode.split("_") if mode else []
    wq = next((w[p] for p in parts if p in w), None)
    aq = "a1x128" in parts
    if mode and not (wq or aq) or any(p not in w and p != "a1x128" for p in parts):
        sys.exit(f"hf_reference: unknown --sim-fp8 mode '{mode}' (known: {', '.join(SIM_MODES)})")
    for layer in model.model.layers:
        for lin in layer.modules():
            if not isinstance(lin, torch.nn.Linear):
                continue
            if not mode:
                lin.__dict__.pop("forward", None)
                continue

            def fwd(x, lin=lin):
                W = lin.weight.float()
                if wq:
                    W = qdq_e4m3(W, *wq)
                if aq:
                    shp = x.shape
                    x = qdq_e4m3(x.float().reshape(-1, shp[-1]), 1, 128).reshape(shp)
                return F.linear(x.float(), W).to(x.dtype)
            lin.forward = fwd


# ---------------------------------------------------------------- modes
def log_softmax(x):
    x = x.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def compare(ours, ref, verbose):
    if not np.all(np.isfinite(ours)):
        print("ours has NaN/Inf")
    rel = np.linalg.norm((ours - ref).astype(np.float64), axis=1) / np.linalg.norm(ref.astype(np.float64), axis=1)
    top_o, top_r = ours.argmax(axis=1), ref.argmax(axis=1)
    lr, lo = log_softmax(ref), log_softmax(ours)
    kl = (np.exp(lr) * (lr - lo)).sum(axis=1)
    if verbose:
        for t in range(len(rel)):
            print(f"pos {t:4d} rel {rel[t]:.3e} top1 ours {top_o[t]} ref {top_r[t]} kl {kl[t]:.3e}")
    T = len(rel)
    agree = int((top_o == top_r).sum())
    print(f"positions {T}: rel err max {np.nanmax(rel):.3e} mean {np.nanmean(rel):.3e} (worst at {int(np.nanargmax(rel))})")
    # Where the reference's own top two are closer than BF16 rounding moves a logit, either answer is right:
    # report the disagreements whose reference margin (ref[top_ref] - ref[top_ours]) is at least 0.25.
    rows = np.arange(T)
    margin = ref[rows, top_r] - ref[rows, top_o]
    firm = int(((top_o != top_r) & (margin >= 0.25)).sum())
    print(f"top-1 agreement {agree}/{T} ({100.0 * agree / T:.1f}%); disagreements with a reference margin >= 0.25: "
          f"{firm}; margins of the others: {' '.join('%.3f' % m for m in sorted(margin[(top_o != top_r) & (margin < 0.25)]))}")
    print(f"mean KL(ref||ours) {np.nanmean(kl):.3e} nats, max {np.nanmax(kl):.3e}")
    return float(np.nanmax(rel)) if np.all(np.isfinite(rel)) else float("inf")


def write_golden(path, model_path, logits, tokens, probe, device):
    try:
        import torch
        import transformers
        versions = f"HF transformers {transformers.__version__} Qwen3ForCausalLM, torch {torch.__version__}, float32"
    except ImportError:
        versions = "no HF"
    with open(path, "w") as f:
        f.write("# golden logits for test_cpu: qwen3-ptx synth --size tiny --type f32 --seed 1 (weights do not depend\n")
        f.write("# on the tokenizer), prefill of the seeded random tokens below, from tests/hf_reference.py:\n")
        f.write(f"# {versions} on {device}, model file {os.path.basename(model_path)}\n")
        f.write("# per position: 'pos P top' + 16 (id logit) pairs in descending order, 'probe' + logits of the probe ids\n")
        f.write(f"tokens {len(tokens)} {' '.join(map(str, tokens))}\n")
        f.write(f"probe {len(probe)} {' '.join(map(str, probe))}\n")
        for p in range(len(tokens)):
            row = logits[p]
            top = np.argsort(-row, kind="stable")[:16]
            pairs = " ".join(f"{int(i)} {row[i]:.9g}" for i in top)
            probes = " ".join(f"{row[i]:.9g}" for i in probe)
            f.write(f"pos {p} top {pairs} probe {probes}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--tokens-seed", type=int, default=7)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--out", help="write N x vocab float32 reference logits")
    ap.add_argument("--compare", help="our N x vocab float32 logits (qwen3-ptx logits -o)")
    ap.add_argument("--ref", help="reference logits written earlier with --out (skips running HF)")
    ap.add_argument("--max-rel", type=float, help="exit 1 if the worst position's relative error exceeds this")
    ap.add_argument("--golden", help="write the golden file (32 positions of tokens seed 1, 16 probe ids)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    ap.add_argument("--numpy", action="store_true",
                    help="use a float64 numpy forward instead of HF (checks this script's GGUF reading; small models)")
    ap.add_argument("--sim-fp8", metavar="MODES",
                    help="after the float32 run (--out), run again with FP8 simulated in HF for each mode "
                         f"(comma-separated: {', '.join(SIM_MODES)}) and write OUT.MODE.f32")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    if a.sim_fp8 and not a.out:
        sys.exit("hf_reference: --sim-fp8 writes next to --out: give --out")

    if a.compare and a.ref:  # no HF needed at all
        ref = np.fromfile(a.ref, dtype="<f4")
        ours = np.fromfile(a.compare, dtype="<f4")
        V = read_config(gguf.GGUFReader(a.model))["vocab"]
        worst = compare(ours.reshape(-1, V), ref.reshape(-1, V), a.verbose)
        sys.exit(1 if a.max_rel is not None and worst > a.max_rel else 0)

    if a.numpy and a.golden:  # exercises test_cpu's golden parser without HF; never commit this output
        V = read_config(gguf.GGUFReader(a.model))["vocab"]
        tokens, probe = random_tokens(1, 32, V), random_tokens(2, 16, V)
        logits, _ = numpy_logits(a.model, tokens)
        write_golden(a.golden, a.model, logits, tokens, probe, "numpy float64 (NOT HF: parser test only)")
        print(f"wrote {a.golden} from the numpy forward")
        return
    if a.numpy:
        V = read_config(gguf.GGUFReader(a.model))["vocab"]
        logits, c = numpy_logits(a.model, random_tokens(a.tokens_seed, a.n, V))
        if a.out:
            logits.astype("<f4").tofile(a.out)
        if a.compare:
            ours = np.fromfile(a.compare, dtype="<f4")
            worst = compare(ours.reshape(logits.shape), logits, a.verbose)
            sys.exit(1 if a.max_rel is not None and worst > a.max_rel else 0)
        return

    import torch
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if a.golden:
        if a.dtype != "float32":
            sys.exit("hf_reference: the golden file is float32")
        model, c = build_model(a.model, a.dtype, device)
        tokens = random_tokens(1, 32, c["vocab"])
        probe = random_tokens(2, 16, c["vocab"])
        logits = run_logits(model, tokens, device)
        os.makedirs(os.path.dirname(os.path.abspath(a.golden)), exist_ok=True)
        write_golden(a.golden, a.model, logits, tokens, probe, device)
        print(f"wrote {a.golden}: {len(tokens)} positions, top-16 + {len(probe)} probe logits each; "
              f"top-1 of the last position {int(logits[-1].argmax())}")
        return

    model, c = build_model(a.model, a.dtype, device)
    tokens = random_tokens(a.tokens_seed, a.n, c["vocab"])
    logits = run_logits(model, tokens, device)
    if a.out:
        logits.astype("<f4").tofile(a.out)
        print(f"wrote {a.out}: {logits.shape[0]} x {logits.shape[1]} float32")
    if a.compare:
        ours = np.fromfile(a.compare, dtype="<f4")
        if ours.size != logits.size:
            sys.exit(f"hf_reference: {a.compare} has {ours.size} floats, expected {logits.shape[0]} x {logits.shape[1]}")
        worst = compare(ours.reshape(logits.shape), logits, a.verbose)
        if a.max_rel is not None and worst > a.max_rel:
            sys.exit(1)
    for mode in (a.sim_fp8.split(",") if a.sim_fp8 else []):
        simulate_fp8(model, mode)
        sim = run_logits(model, tokens, device)
        simulate_fp8(model, None)
        sim.astype("<f4").tofile(f"{a.out}.{mode}.f32")
        print(f"wrote {a.out}.{mode}.f32 (FP8 simulated: {mode}); against this run's float32:")
        compare(sim, logits, False)


if __name__ == "__main__":
    main()
