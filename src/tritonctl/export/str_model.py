"""The None-ResNet-None-CTC text recogniser (STR) in PyTorch, with the parameter names of clovaai's checkpoint,
and its export to ONNX with the tutorial's tensor names and a dynamic batch axis.

Architecture of clovaai/deep-text-recognition-benchmark's None-ResNet-None-CTC: ResNet(1, 512, BasicBlock,
[1, 2, 5, 3]), then
AdaptiveAvgPool2d((512, 1)) over [b, w, c, h], then Linear(512, 37). Input [N, 1, 32, 100] -> output [N, 26, 37].
"""

from __future__ import annotations

from pathlib import Path

from tritonctl.errors import ExportError

NUM_CLASSES = 37
INPUT_SHAPE = (1, 32, 100)


def build_model():
    import torch
    from torch import nn

    class BasicBlock(nn.Module):
        def __init__(self, inplanes, planes, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x):
            residual = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + residual)

    class ResNet(nn.Module):
        def __init__(self, input_channel=1, output_channel=512, layers=(1, 2, 5, 3)):
            super().__init__()
            blocks = [output_channel // 4, output_channel // 2, output_channel, output_channel]
            self.inplanes = output_channel // 8
            self.conv0_1 = nn.Conv2d(input_channel, output_channel // 16, 3, 1, 1, bias=False)
            self.bn0_1 = nn.BatchNorm2d(output_channel // 16)
            self.conv0_2 = nn.Conv2d(output_channel // 16, self.inplanes, 3, 1, 1, bias=False)
            self.bn0_2 = nn.BatchNorm2d(self.inplanes)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool1 = nn.MaxPool2d(2, 2, 0)
            self.layer1 = self._make_layer(blocks[0], layers[0])
            self.conv1 = nn.Conv2d(blocks[0], blocks[0], 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(blocks[0])
            self.maxpool2 = nn.MaxPool2d(2, 2, 0)
            self.layer2 = self._make_layer(blocks[1], layers[1])
            self.conv2 = nn.Conv2d(blocks[1], blocks[1], 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(blocks[1])
            self.maxpool3 = nn.MaxPool2d(2, (2, 1), (0, 1))
            self.layer3 = self._make_layer(blocks[2], layers[2])
            self.conv3 = nn.Conv2d(blocks[2], blocks[2], 3, 1, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(blocks[2])
            self.layer4 = self._make_layer(blocks[3], layers[3])
            self.conv4_1 = nn.Conv2d(blocks[3], blocks[3], 2, (2, 1), (0, 1), bias=False)
            self.bn4_1 = nn.BatchNorm2d(blocks[3])
            self.conv4_2 = nn.Conv2d(blocks[3], blocks[3], 2, 1, 0, bias=False)
            self.bn4_2 = nn.BatchNorm2d(blocks[3])

        def _make_layer(self, planes, count):
            downsample = None
            if self.inplanes != planes:
                downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, 1, bias=False), nn.BatchNorm2d(planes))
            layers = [BasicBlock(self.inplanes, planes, downsample)]
            self.inplanes = planes
            layers += [BasicBlock(planes, planes) for _ in range(1, count)]
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.relu(self.bn0_1(self.conv0_1(x)))
            x = self.relu(self.bn0_2(self.conv0_2(x)))
            x = self.layer1(self.maxpool1(x))
            x = self.relu(self.bn1(self.conv1(x)))
            x = self.layer2(self.maxpool2(x))
            x = self.relu(self.bn2(self.conv2(x)))
            x = self.layer3(self.maxpool3(x))
            x = self.relu(self.bn3(self.conv3(x)))
            x = self.layer4(x)
            x = self.relu(self.bn4_1(self.conv4_1(x)))
            return self.relu(self.bn4_2(self.conv4_2(x)))

    class FeatureExtractor(nn.Module):
        def __init__(self):
            super().__init__()
            self.ConvNet = ResNet()

        def forward(self, x):
            return self.ConvNet(x)

    class STRModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.FeatureExtraction = FeatureExtractor()
            self.AdaptiveAvgPool = nn.AdaptiveAvgPool2d((512, 1))
            self.Prediction = nn.Linear(512, NUM_CLASSES)

        def forward(self, input):  # noqa: A002 - the argument name gives the legacy exporter's "input.1"
            visual = self.FeatureExtraction(input)
            visual = self.AdaptiveAvgPool(visual.permute(0, 3, 1, 2)).squeeze(3)
            return self.Prediction(visual.contiguous())

    del torch
    return STRModel()


def random_weights(model, seed: int) -> None:
    """Deterministic weights in a realistic range: Kaiming/Glorot-style convolutions, batch-norm statistics
    near mean 0 / variance 1, so activations neither vanish nor explode."""
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                fan_out = module.weight.shape[0] * (module.weight[0, 0].numel() if module.weight.dim() > 2 else 1)
                bound = (6.0 / (fan_in + fan_out)) ** 0.5
                module.weight.copy_(torch.rand(module.weight.shape, generator=gen) * 2 * bound - bound)
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(1.0 + 0.1 * torch.randn(n, generator=gen))
                module.bias.copy_(0.1 * torch.randn(n, generator=gen))
                module.running_mean.copy_(0.1 * torch.randn(n, generator=gen))
                module.running_var.copy_(1.0 + 0.1 * torch.rand(n, generator=gen))


def load_checkpoint(model, path: Path) -> None:
    """Load clovaai's None-ResNet-None-CTC.pth (a DataParallel state dict: keys start with `module.`)."""
    import torch

    from tritonctl.io.files import describe, open_regular

    try:
        with open_regular(path) as f:
            if not f.read(1):
                raise ExportError(f"'{path}' is empty, not a PyTorch checkpoint")
    except OSError as e:
        raise ExportError(f"cannot read '{path}': {describe(e)}") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - whatever torch.load raises, the file is not a checkpoint it reads
        first = (str(e).splitlines() or [""])[0][:200]
        raise ExportError(f"'{path}' is not a PyTorch checkpoint ({type(e).__name__}: {first})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ExportError(f"'{path}' holds no state dict of tensors")
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    misshaped = [f"{k} {tuple(state[k].shape)} (expected {tuple(expected[k].shape)})" for k in expected
                 if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or misshaped:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
            if keys:
                shown = ", ".join(keys[:4]) + (f", … ({len(keys)} in all)" if len(keys) > 4 else "")
                parts.append(f"{label}: {shown}")
        raise ExportError(f"'{path}' is not a None-ResNet-None-CTC checkpoint; " + "; ".join(parts))
    model.load_state_dict(state, strict=False)


def export_onnx(model, path: Path, *, input_name: str, output_name: str, opset: int) -> None:
    import warnings

    import torch

    model.eval()
    dummy = torch.zeros((1, *INPUT_SHAPE))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (dummy,), str(path), dynamo=False, input_names=[input_name],
                          output_names=[output_name], opset_version=opset,
                          dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}})


def reference_outputs(model, batch):
    import torch

    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(batch)).numpy()
