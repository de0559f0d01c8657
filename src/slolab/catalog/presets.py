"""Serving-model presets: the step-time and capacity constants of one model on one GPU shape.

A preset feeds the iteration-level vLLM V1 engine model (``slolab.sim.engine``). Its step time is
the roofline equation of research/serving-model.md §2.4::

    t_step = max(t0, toh + a_p * N_tok) + a_kv * Σ(context of decoding seqs) + a_b * B

times a lognormal jitter of mean 1 and cv ``step_jitter_cv``; a lognormal front-end (API server)
overhead of mean ``api_ms_mean`` and cv ``api_cv`` is added to every request's TTFT.

Sources (keys as in serving-model.md §7):
  [VI19996] vllm#19996 startup log: 410,128 KV tokens for Llama-3.1-8B on one H100.
  [VN]      vLLM nightly benchmarks (H100): batch-8 latency 997.5 ms (8B) and 2444 ms (70B TP4).
  [LAMBDA]  Lambda vLLM benchmark: median TPOT 7.56 ms at <= 10 seqs (8B, H100).
  [BLIS]    inference-sim: beta6 = 4.42 us per request, alpha0 = 15.6 ms API overhead,
            KV-capacity formula (kv_capacity.go).
  [VARG]    vLLM engine/arg_utils.py get_batch_defaults: H100 -> 1024 seqs / 8192 tokens.
  [D]       derivations and the minisim fit of serving-model.md §2.4 and §3.3.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Preset:
    """Constants of one served model on one GPU shape (times in ms, sizes in tokens)."""

    name: str
    model: str  # Hugging Face id
    gpu: str
    tensor_parallel: int
    t0_ms: float  # decode floor of a step
    toh_ms: float  # fixed part of a compute-bound step
    a_p_ms: float  # per batched token
    a_kv_ms: float  # per context token read, per decoding sequence
    a_b_ms: float  # per sequence in the batch
    api_ms_mean: float  # front-end overhead, lognormal mean
    api_cv: float  # front-end overhead, lognormal cv
    step_jitter_cv: float  # multiplicative lognormal step-time jitter (mean 1)
    kv_capacity_tokens: int  # paged-KV capacity at gpu_memory_utilization 0.9
    block_size: int = 16  # vLLM default block size, tokens
    max_model_len: int = 131072  # model context window
    default_max_num_seqs: int = 1024
    default_max_num_batched_tokens: int = 8192

    @property
    def kv_blocks(self) -> int:
        """Number of KV blocks the engine can hand out."""
        return self.kv_capacity_tokens // self.block_size


PRESETS: dict[str, Preset] = {
    "llama-3.1-8b-h100": Preset(
        name="llama-3.1-8b-h100",
        model="meta-llama/Llama-3.1-8B-Instruct",
        gpu="H100-SXM-80GB",
        tensor_parallel=1,
        t0_ms=7.5,  # §2.4: [VN] 997.5 ms / 128 steps ≈ 7.8; [LAMBDA] 7.56 ms TPOT
        toh_ms=1.5,  # §2.4: fit [D]
        a_p_ms=0.025,  # §2.4: 2·7.5e9 FLOP / (989 TFLOPS × 0.6) [D]
        a_kv_ms=4.9e-5,  # §2.4: 128 KiB / (0.8 × 3.35 TB/s) [D]
        a_b_ms=0.005,  # §2.4: [BLIS] beta6 = 4.42 us per request
        api_ms_mean=10.0,  # §2.4: low-load TTFT residual of the 7B fit ≈ 10 ms [D]
        api_cv=0.6,  # §2.4 / §3.3 "Lessons": cv ≈ 0.6–1 [D]
        step_jitter_cv=0.1,  # §3.3 "Lessons": step jitter cv 0.1–0.2 [D]
        kv_capacity_tokens=410_128,  # §2.4: measured startup log [VI19996]
        block_size=16,  # §2.3: vLLM default block size
        max_model_len=131_072,  # Llama-3.1 context window (128 Ki tokens)
        default_max_num_seqs=1024,  # §2.3: `vllm serve` on H100 [VARG]
        default_max_num_batched_tokens=8192,  # §2.3: `vllm serve` on H100 [VARG]
    ),
    "llama-3.1-70b-4xh100": Preset(
        name="llama-3.1-70b-4xh100",
        model="meta-llama/Llama-3.1-70B-Instruct",
        gpu="H100-SXM-80GB",
        tensor_parallel=4,
        t0_ms=15.5,  # §2.4: fit of §3.3 [D]; [VN] batch 8: 19.1 ms/step
        toh_ms=3.0,  # §2.4: fit [D]
        a_p_ms=0.05,  # §2.4: Vidur TP4 MLP profile + all-reduce [D]; uncertain ≈ 2× (§6)
        a_kv_ms=3.1e-5,  # §2.4: 80 KiB / 2.68 TB/s [D]
        a_b_ms=0.005,  # §2.4: [BLIS] beta6 = 4.42 us per request
        api_ms_mean=15.0,  # §2.4: 12–20 ms; [BLIS] alpha0 = 15.6 ms
        api_cv=0.6,  # §2.4: cv ≈ 0.6 [D]
        step_jitter_cv=0.1,  # §3.3 "Lessons": step jitter cv 0.1–0.2 [D]
        kv_capacity_tokens=433_192,  # §2.4: (0.9·80−32.85−5.5−0.6) GiB / 80 KiB [BLIS][D]
        block_size=16,  # §2.3: vLLM default block size
        max_model_len=131_072,  # Llama-3.1 context window (128 Ki tokens)
        default_max_num_seqs=1024,  # §2.3: `vllm serve` on H100 [VARG]
        default_max_num_batched_tokens=8192,  # §2.3: `vllm serve` on H100 [VARG]
    ),
}
