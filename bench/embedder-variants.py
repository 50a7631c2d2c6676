#!/usr/bin/env python3
"""Other ONNX files of the same model, for bench/embedder-options.ts --variant (issue 14; never used
by the product). Needs the reference venv (processors/embedder/reference/setup-venv.sh) plus `onnx`
and `sympy` (pip install onnx sympy in that venv).

  embedder-variants.py SRC.onnx OUT_DIR

writes OUT_DIR/
  fp32.onnx          SRC with its int8 weights dequantised ahead of time (ORT basic level: constant
                     folding of the Cast+Mul dequantisation), i.e. what ORT computes with anyway
  fused.onnx         fp32.onnx through onnxruntime.transformers' BERT fusions (Attention is not
                     fused on this export; BiasGelu and SkipLayerNormalization are)
  int8-s8.onnx       fp32.onnx with dynamic int8 quantisation of every MatMul (int8 weights,
                     activations quantised per call: MatMulInteger / DynamicQuantizeMatMul kernels)
  int8-u8.onnx       the same with uint8 weights
"""

import os
import sys

import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers import optimizer


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    fp32 = os.path.join(out, "fp32.onnx")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = fp32
    ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
    fused = optimizer.optimize_model(fp32, model_type="bert", num_heads=12, hidden_size=384, opt_level=0)
    print("fusions:", {k: v for k, v in fused.get_fused_operator_statistics().items() if v})
    fused.save_model_to_file(os.path.join(out, "fused.onnx"))
    for name, wt in (("int8-s8", QuantType.QInt8), ("int8-u8", QuantType.QUInt8)):
        quantize_dynamic(fp32, os.path.join(out, f"{name}.onnx"), weight_type=wt, op_types_to_quantize=["MatMul"])
    print("written:", sorted(os.listdir(out)))


if __name__ == "__main__":
    sys.exit(main())
