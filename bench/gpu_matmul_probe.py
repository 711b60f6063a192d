"""The graphs of the matrix-product probe (bench/gpu-matmul-probe.sh):

    python3 bench/gpu_matmul_probe.py DIR

- chain_{fp32,fp16,q8,q4}.onnx: four pairs of roberta-large's feed-forward products,
  x[M,1024] @ [1024,4096] @ [4096,1024], with float32 or fp16 weights, or with 8-bit or 4-bit
  MatMulNBits weights (blocks of 32, fp16 scales, scale = the block's largest magnitude /
  (2^(bits-1) - 1), zero point 2^(bits-1)); random weights, only time is measured;
- acc_{...}.onnx: one product [512,1024] @ [1024,4096] with weights ~ N(0, 0.02), as a trained
  roberta's, and its input (acc_x32.bin, acc_x16.bin) and float64 reference (acc_ref.bin).
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
K, N = 1024, 4096

def quantize(w, bits):  # w [K, N] -> packed [N, K/32, 32*bits/8] uint8, scales [N*K/32] fp16 (symmetric, zero point 2^(bits-1))
    k, n = w.shape
    blocks = w.T.reshape(n, k // 32, 32)
    qmax = 2 ** (bits - 1) - 1
    scale = np.abs(blocks).max(axis=2, keepdims=True) / qmax
    scale = scale.astype(np.float16).astype(np.float32)
    scale[scale == 0] = 1
    q = np.clip(np.rint(blocks / scale), -qmax - 1, qmax).astype(np.int32) + 2 ** (bits - 1)
    if bits == 8:
        packed = q.astype(np.uint8)
    else:
        packed = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8)
    deq = ((q - 2 ** (bits - 1)) * scale).reshape(n, k).T
    return packed, scale.reshape(-1).astype(np.float16), deq

def graph(name, weights, kind, out_name="y"):
    nodes, inits, cur = [], [], "x"
    for i, w in enumerate(weights):
        o = out_name if i == len(weights) - 1 else f"h{i}"
        if kind in ("q8", "q4"):
            bits = 8 if kind == "q8" else 4
            packed, scales, _ = quantize(w, bits)
            inits += [numpy_helper.from_array(packed, f"w{i}"), numpy_helper.from_array(scales, f"s{i}")]
            nodes.append(helper.make_node("MatMulNBits", [cur, f"w{i}", f"s{i}"], [o], domain="com.microsoft",
                                          K=w.shape[0], N=w.shape[1], bits=bits, block_size=32))
        else:
            dt = np.float32 if kind == "fp32" else np.float16
            inits.append(numpy_helper.from_array(w.astype(dt), f"w{i}"))
            nodes.append(helper.make_node("MatMul", [cur, f"w{i}"], [o]))
        cur = o
    et = TensorProto.FLOAT if kind == "fp32" else TensorProto.FLOAT16
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", et, ["M", weights[0].shape[0]])],
                          [helper.make_tensor_value_info(out_name, et, ["M", weights[-1].shape[1]])], inits)
    opsets = [helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)]
    onnx.save_model(helper.make_model(g, opset_imports=opsets, ir_version=9), f"{out}/{name}.onnx")

# speed chains: 4 pairs of [1024,4096]·[4096,1024], roberta's FFN shapes
chain = []
for i in range(8):
    r, c = (K, N) if i % 2 == 0 else (N, K)
    chain.append((rng.standard_normal((r, c), dtype=np.float32) / np.sqrt(r)).astype(np.float32))
plan = []
for kind in ("fp32", "fp16", "q8", "q4"):
    graph(f"chain_{kind}", chain, kind)
    plan.append({"graph": f"chain_{kind}", "kind": kind, "k": K, "flops_per_row": sum(2 * w.shape[0] * w.shape[1] for w in chain),
                 "m_values": [256, 2048, 8192]})
# accuracy: one product [512,1024]·[1024,4096], weights ~ N(0, 0.02) as a trained roberta's, input ~ N(0,1)
w = (rng.standard_normal((K, N), dtype=np.float32) * 0.02).astype(np.float32)
x = rng.standard_normal((512, K), dtype=np.float32).astype(np.float16).astype(np.float32)
for kind in ("fp32", "fp16", "q8", "q4"):
    graph(f"acc_{kind}", [w], kind)
ref = x.astype(np.float64) @ w.astype(np.float64)
x.astype(np.float32).tofile(f"{out}/acc_x32.bin")
x.astype(np.float16).tofile(f"{out}/acc_x16.bin")
ref.astype(np.float32).tofile(f"{out}/acc_ref.bin")
for bits in (8, 4):
    _, _, deq = quantize(w, bits)
    d = x.astype(np.float64) @ deq.astype(np.float64)
    print(json.dumps({"stage": "quantization-only error", "bits": bits, "rel": float(np.linalg.norm(d - ref) / np.linalg.norm(ref))}))
json.dump(plan, open(f"{out}/plan.json", "w"))
print("built", os.listdir(out))
