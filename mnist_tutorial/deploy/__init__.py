"""The trained network outside Python: ONNX export, the drawing specification, the offline web page (05, 08)."""
