"""The matrix-product ceiling of the GPU captioning benchmark (bench/gpu-caption.sh).

    python3 bench/gpu_ceiling.py build DIR          # the ONNX chains, for bench/gpu-ceiling.mjs
    python3 bench/gpu_ceiling.py torch RESULTS      # PyTorch's rate on the same shapes

Each chain is the matrix products of Qwen2-VL-2B's layers, back to back, so that the copies
in and out of one run are small next to its arithmetic:
- dec: the decoder MLP's shapes, x[M,1536] @ [1536,8960] @ [8960,1536], four times;
- vis: the vision MLP's shapes, x[M,1280] @ [1280,5120] @ [5120,1280], four times;
- dec_q4: `dec` with 4-bit MatMulNBits weights (block 32, fp16 scales), ONNX Runtime's q4f16;
- one, tiny: 2 and 128 products of 64x64 weights, whose arithmetic is nothing: the cost of a run
  and of each dispatch beyond it (a decode step is about 840 dispatches).
M is the number of positions in one run: the batch in a decode step, about 290 per image in
the prefill, 1,024 patches per image in the vision encoder. Weights are random: only time
is measured. Every result is one JSON line appended to RESULTS.
"""
import json
import sys
import time

import numpy as np

PAIRS = 4
SHAPES = {"dec": (1536, 8960), "vis": (1280, 5120), "one": (64, 64), "tiny": (64, 64)}
M_VALUES = {"dec": [1, 8, 32, 64, 290, 2320, 9280, 18560], "vis": [1024, 8192, 32768], "one": [1, 8], "tiny": [1, 8]}
CHAIN_PAIRS = {"one": 1, "tiny": 64}


def chain_graph(name, k, n, q4, pairs=PAIRS):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, current = [], [], "x"
    for i in range(2 * pairs):
        rows, cols = (k, n) if i % 2 == 0 else (n, k)
        out = "y" if i == 2 * pairs - 1 else f"h{i}"
        if q4:
            blocks = rows // 32
            packed = rng.integers(0, 256, size=(cols, blocks, 16), dtype=np.uint8)
            scales = (rng.random(cols * blocks, dtype=np.float32) * 0.002).astype(np.float16)
            inits += [numpy_helper.from_array(packed, f"w{i}"), numpy_helper.from_array(scales, f"s{i}")]
            nodes.append(helper.make_node("MatMulNBits", [current, f"w{i}", f"s{i}"], [out], domain="com.microsoft",
                                          K=rows, N=cols, bits=4, block_size=32))
        else:
            weight = (rng.standard_normal((rows, cols), dtype=np.float32) / np.sqrt(rows)).astype(np.float16)
            inits.append(numpy_helper.from_array(weight, f"w{i}"))
            nodes.append(helper.make_node("MatMul", [current, f"w{i}"], [out]))
        current = out
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["M", k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["M", k])], inits)
    opsets = [helper.make_opsetid("", 18)] + ([helper.make_opsetid("com.microsoft", 1)] if q4 else [])
    return helper.make_model(graph, opset_imports=opsets, ir_version=9)


def build(out_dir):
    import os

    import onnx

    os.makedirs(out_dir, exist_ok=True)
    plan = []
    for name, q4 in (("dec", False), ("dec_q4", True), ("vis", False), ("one", False), ("tiny", False)):
        k, n = SHAPES[name.split("_")[0]]
        pairs = CHAIN_PAIRS.get(name, PAIRS)
        onnx.save_model(chain_graph(name, k, n, q4, pairs), f"{out_dir}/{name}.onnx")
        plan.append({"graph": name, "k": k, "n": n, "matmuls": 2 * pairs,
                     "m_values": M_VALUES[name.split("_")[0]]})
    json.dump(plan, open(f"{out_dir}/plan.json", "w"))
    print(json.dumps({"stage": "ceiling-graphs", "graphs": [p["graph"] for p in plan]}))


def torch_rates(results):
    import torch

    for name, (k, n) in SHAPES.items():
        if name in CHAIN_PAIRS:
            continue
        weights = [torch.randn(k, n, device="cuda", dtype=torch.float16) / k ** 0.5 if i % 2 == 0 else
                   torch.randn(n, k, device="cuda", dtype=torch.float16) / n ** 0.5 for i in range(2 * PAIRS)]
        for m in M_VALUES[name]:
            x = torch.randn(m, k, device="cuda", dtype=torch.float16)

            def run():
                y = x
                for w in weights:
                    y = y @ w
                return y

            for _ in range(3):
                run()
            torch.cuda.synchronize()
            times = []
            for _ in range(7):
                started = time.perf_counter()
                run()
                torch.cuda.synchronize()
                times.append(time.perf_counter() - started)
            seconds = sorted(times)[len(times) // 2]
            flops = 2 * PAIRS * 2 * m * k * n  # 2*PAIRS products of 2*m*k*n each
            entry = {"stage": "ceiling", "engine": "pytorch", "graph": name, "m": m,
                     "ms": round(seconds * 1000, 3), "tflops": round(flops / seconds / 1e12, 2)}
            print(json.dumps(entry), flush=True)
            with open(results, "a") as f:
                f.write(json.dumps(entry) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build(sys.argv[2])
    else:
        torch_rates(sys.argv[2])
