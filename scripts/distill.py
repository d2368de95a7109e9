#!/usr/bin/python3
"""Quantization-aware distillation of the bundled CenterNet (run by `npm run models:distill`).

Dev-time only: Debian's python3-torch (CPU) and python3-onnx, never a run-time dependency.

The float graph that scripts/quantize.ts places its Q/DQ pairs on (`--model`; `--plan`
names the uint8 scale and zero point of each quantized activation and the convolutions
whose weights become int8) is loaded into PyTorch node by node. The student runs it with
the quantization onnxruntime will apply: int8 weights, symmetric, one scale per output
channel (the channel's largest |w| over 127, as quantize.ts takes it); uint8 activations,
one scale and zero point per tensor, at the same tensors. Rounding passes gradients
straight through; each activation's scale is learned (LSQ). The teacher is the same graph
in float with the original weights. The student learns the teacher's score map and box
sizes on unlabeled images (`--images`: raw RGB frames written by scripts/distill.ts), with
augmentation: scale, crop, flip, colour, noise; with `--features`, every quantized
activation as well; with `--bias-correction`, from biases corrected for the weights'
rounding as a calibrated build's.

Written back: the prepared graph with the learned float weights (`--out`), from which
quantize.ts builds the integer graph byte for byte, and the learned activation parameters
(`--params`). Seeds are fixed and one run uses `--threads` threads; the result is
reproducible within floating-point reordering.
"""
import argparse
import contextlib
import json
import math
import random
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

HEAT = 'tower_0/Sigmoid_token_292'
LOGITS = 'tower_0/CenternetHead/centernet_cls_output/BiasAdd/conv__260'
SIZES = 'tower_0/mul'
PEAKS = 'tower_0/max_pooling2d/MaxPool/pool__263'


# The score map's ranges, not calibrated: the calibration images' highest score (0.71)
# would cap every score there. Logits from -8 (a uint8 step of the sigmoid's output below
# that) to 4 (0.98), learned from there on; scores over all of 0..1.
HEAD_PARAMS = {
    LOGITS: {'scale': 12 / 255, 'zeroPoint': round(8 / (12 / 255))},
    HEAT: {'scale': 1 / 255, 'zeroPoint': 0},
}


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def same_upper(x, kernel, stride, value=0.0):
    """ONNX SAME_UPPER padding: the output is ceil(in / stride); an odd remainder goes after."""
    pads = []
    for size, k, s in reversed(list(zip(x.shape[2:], kernel, stride))):
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value) if any(pads) else x


def round_ste(x):
    return x + (torch.round(x) - x).detach()


def upsample_asymmetric(x, axis):
    """Linear resize by 2 with 'asymmetric' coordinates: out[2i] = in[i], out[2i+1] = (in[i] + in[i+1]) / 2, the edge repeated."""
    nxt = torch.cat([x.narrow(axis, 1, x.shape[axis] - 1), x.narrow(axis, x.shape[axis] - 1, 1)], axis)
    mid = (x + nxt) / 2
    out = torch.stack([x, mid], axis + 1)
    shape = list(x.shape)
    shape[axis] *= 2
    return out.reshape(shape)


class ActivationQuantizer(torch.nn.Module):
    """uint8 fake quantization of one tensor: q = clamp(round(x / s) + z, 0, 255), y = (q - z) s; s learned (log), z fixed."""

    def __init__(self, scale, zero_point, learn, max_scale=None):
        super().__init__()
        self.log_scale = torch.nn.Parameter(torch.tensor(math.log(scale), dtype=torch.float32), requires_grad=learn)
        self.zero_point = float(zero_point)
        self.max_scale = max_scale

    def scale(self):
        s = torch.exp(self.log_scale)
        return torch.clamp(s, max=self.max_scale) if self.max_scale else s

    def forward(self, x):
        s = self.scale()
        q = torch.clamp(round_ste(x / s) + self.zero_point, 0, 255)
        return (q - self.zero_point) * s

    def params(self):
        return {'scale': float(np.float32(self.scale().item())), 'zeroPoint': int(self.zero_point)}


def weight_fake_quant(w):
    """int8, symmetric, per output channel, the scale from the weights themselves (as quantize.ts)."""
    amax = w.detach().abs().flatten(1).amax(1).clamp(min=1e-12)
    s = (amax / 127).view(-1, *([1] * (w.dim() - 1)))
    return torch.clamp(round_ste(w / s), -127, 127) * s


class OnnxGraph(torch.nn.Module):
    """The part of an ONNX graph that computes `outputs`, as PyTorch operations."""

    def __init__(self, model, outputs, plan=None, learn_ranges=True):
        super().__init__()
        graph = model.graph
        producer = {o: n for n in graph.node for o in n.output}
        needed, stack = set(), list(outputs)
        while stack:
            t = stack.pop()
            n = producer.get(t)
            if n is None or id(n) in needed:
                continue
            needed.add(id(n))
            stack += [i for i in n.input if i]
        self.nodes = [n for n in graph.node if id(n) in needed]
        self.outputs = outputs
        self.input_name = graph.input[0].name
        inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.weights = torch.nn.ParameterDict()
        self.key = {}
        self.constants = {}
        for n in self.nodes:
            for k, i in enumerate(n.input):
                if i not in inits:
                    continue
                if n.op_type == 'Conv' and k in (1, 2):
                    key = f'p{len(self.key)}'
                    self.key[i] = key
                    self.weights[key] = torch.nn.Parameter(torch.from_numpy(inits[i].astype(np.float32).copy()))
                else:
                    self.constants[i] = torch.from_numpy(np.array(inits[i]))
        self.int8_convs = set(plan['convs']) if plan else set()
        self.quantizers = torch.nn.ModuleDict()
        self.quantizer_of = {}
        if plan:
            produced = {o for n in self.nodes for o in n.output}
            bounded = {}
            for n in self.nodes:
                if n.op_type == 'Relu':
                    bounded[n.output[0]] = None
                elif n.op_type == 'Clip':
                    hi = self.constants.get(n.input[2]) if len(n.input) > 2 and n.input[2] else None
                    bounded[n.output[0]] = float(hi) / 255 if hi is not None else None
            # Resize and MaxPool read and write at one scale: one quantizer for both sides.
            tied = {}
            for n in self.nodes:
                if n.op_type in ('Resize', 'MaxPool') and n.input[0] in plan['activations'] and n.output[0] in plan['activations']:
                    tied[n.output[0]] = n.input[0]
                # A transposed copy keeps its source's scale: onnxruntime moves uint8 values through it.
                if n.op_type == 'Transpose' and n.input[0] in plan['activations'] and n.output[0] in plan['activations']:
                    tied[n.output[0]] = n.input[0]
            for name, p in plan['activations'].items():
                if name not in produced or name in tied:
                    continue
                key = f'q{len(self.quantizers)}'
                p = HEAD_PARAMS.get(name, p)
                self.quantizers[key] = ActivationQuantizer(p['scale'], p['zeroPoint'], learn_ranges and name != HEAT, bounded.get(name))
                self.quantizer_of[name] = key
            for out, inp in tied.items():
                if inp in self.quantizer_of:
                    self.quantizer_of[out] = self.quantizer_of[inp]

        # The tensors `forward` reports with `features`: the quantized ones.
        self.watched = set(self.quantizer_of)
        # A dict while the convolutions' mean inputs are being gathered (`correct_biases`).
        self.input_means = None

    def value(self, values, name):
        if name in self.key:
            return self.weights[self.key[name]]
        if name in self.constants:
            return self.constants[name]
        return values[name]

    def forward(self, image, quantized=False, features=None):
        """The outputs; with `features` (a dict), also every quantized activation's value into it."""
        values = {self.input_name: image}
        self.run(self.nodes, values, quantized, features)
        return [values[o] for o in self.outputs]

    def run(self, nodes, values, quantized=False, features=None):
        """Computes `nodes` in order into `values` (which holds their inputs)."""
        for n in nodes:
            x = [self.value(values, i) if i else None for i in n.input]
            a = attrs(n)
            op = n.op_type
            if op == 'Cast':
                y = x[0].float()
            elif op == 'Transpose':
                y = x[0].permute(*a['perm'])
            elif op == 'Conv':
                w, b = x[1], x[2] if len(x) > 2 else None
                if self.input_means is not None:
                    self.input_means.setdefault(n.name, []).append(x[0].detach().mean((0, 2, 3)))
                if quantized and n.name in self.int8_convs:
                    w = weight_fake_quant(w)
                kernel, stride = list(w.shape[2:]), a.get('strides', [1, 1])
                inp = x[0]
                if a.get('auto_pad', b'NOTSET') == b'SAME_UPPER':
                    inp = same_upper(inp, kernel, stride)
                elif 'pads' in a:
                    p = a['pads']
                    inp = F.pad(inp, [p[1], p[3], p[0], p[2]])
                y = F.conv2d(inp, w, b, stride=stride, dilation=a.get('dilations', [1, 1]), groups=a.get('group', 1))
            elif op == 'Relu':
                y = F.relu(x[0])
            elif op == 'Clip':
                lo = float(x[1]) if len(x) > 1 and x[1] is not None else None
                hi = float(x[2]) if len(x) > 2 and x[2] is not None else None
                y = torch.clamp(x[0], lo, hi)
            elif op == 'Add':
                y = x[0] + x[1]
            elif op == 'Mul':
                y = x[0] * x[1]
            elif op == 'Sigmoid':
                y = torch.sigmoid(x[0])
            elif op == 'GlobalAveragePool':
                y = x[0].mean((2, 3), keepdim=True)
            elif op == 'Concat':
                y = torch.cat(x, a['axis'])
            elif op == 'Resize':
                scales = [float(s) for s in x[2]]
                assert scales == [1, 1, 2, 2] and a['mode'] == b'linear' and a['coordinate_transformation_mode'] == b'asymmetric', n.name
                y = upsample_asymmetric(upsample_asymmetric(x[0], 2), 3)
            elif op == 'MaxPool':
                k = a['kernel_shape']
                y = F.max_pool2d(same_upper(x[0], k, a['strides'], value=-math.inf), k, a['strides'])
            else:
                raise NotImplementedError(f'{op} ({n.name})')
            out = n.output[0]
            if quantized and out in self.quantizer_of:
                y = self.quantizers[self.quantizer_of[out]](y)
            values[out] = y
            if features is not None and out in self.watched:
                features[out] = y

    def write_back(self, model):
        """The learned weights into `model`'s initializers (float32)."""
        for t in model.graph.initializer:
            if t.name in self.key:
                t.CopyFrom(numpy_helper.from_array(self.weights[self.key[t.name]].detach().numpy().astype(np.float32), t.name))


def correct_biases(student, teacher, batches):
    """The student's biases take out the shift its weights' rounding makes at each
    convolution's mean input (Wq - W)·E[x], as quantize.ts corrects a calibrated build: the
    means are the float model's, over `batches`."""
    teacher.input_means = {}
    with torch.no_grad():
        for batch in batches:
            teacher(batch)
        means = {k: torch.stack(v).mean(0) for k, v in teacher.input_means.items()}
        teacher.input_means = None
        convs = {n.name: n for n in student.nodes if n.op_type == 'Conv'}
        for name in student.int8_convs:
            n = convs[name]
            if len(n.input) < 3 or not n.input[2]:
                continue
            w, b = student.weights[student.key[n.input[1]]], student.weights[student.key[n.input[2]]]
            groups = attrs(n).get('group', 1)
            out_channels, per_group = w.shape[0], w.shape[1]
            m = means[name].view(groups, 1, per_group).expand(groups, out_channels // groups, per_group).reshape(out_channels, per_group)
            b -= ((weight_fake_quant(w) - w).sum((2, 3)) * m).sum(1)


def load_images(path):
    index = json.load(open(path + '.json'))
    raw = np.fromfile(path, dtype=np.uint8)
    images, offset = [], 0
    for item in index['images']:
        size = item['height'] * item['width'] * 3
        images.append(torch.from_numpy(raw[offset:offset + size].reshape(item['height'], item['width'], 3).copy()))
        offset += size
    return index['images'], images


def augment(image, size, rng):
    """A random view of an HWC uint8 image as a float NHWC tensor of pixel levels: half the time
    the whole image stretched to the input (as the agent feeds frames), else a scaled crop;
    flips, colour and noise."""
    h, w = image.shape[:2]
    x = image.permute(2, 0, 1).unsqueeze(0).float()
    if rng.random() < 0.5:
        x = F.interpolate(x, size=(size, size), mode='bilinear', align_corners=False, antialias=True)
    else:
        scale = size / min(h, w) * rng.uniform(0.6, 1.8)
        nh, nw = max(size, round(h * scale * rng.uniform(0.85, 1.15))), max(size, round(w * scale))
        x = F.interpolate(x, size=(nh, nw), mode='bilinear', align_corners=False, antialias=scale < 1)
        top, left = rng.randint(0, nh - size), rng.randint(0, nw - size)
        x = x[:, :, top:top + size, left:left + size]
    if rng.random() < 0.5:
        x = x.flip(3)
    gray = x.mean(1, keepdim=True)
    x = gray + (x - gray) * rng.uniform(0.7, 1.3)  # saturation
    x = (x - 128) * rng.uniform(0.8, 1.2) + 128 + rng.uniform(-20, 20)  # contrast, brightness
    if rng.random() < 0.3:
        x = x + torch.randn_like(x) * rng.uniform(0, 6)
    return torch.round(x.clamp(0, 255)).permute(0, 2, 3, 1)


def feature_loss(student, teacher):
    """Each quantized activation against the teacher's, its squared error relative to the
    teacher's own mean square, averaged over the activations: every layer's output is a
    target (as block-wise reconstruction has it), not only the last, so one image teaches
    a few hundred things instead of a few dozen peaks."""
    terms = [((student[k] - t) ** 2).mean() / ((t ** 2).mean() + 1e-6) for k, t in teacher.items() if k in student]
    return torch.stack(terms).mean()


def losses(student, teacher, weights):
    """The score map where it matters, in two halves: the positions where the teacher
    scores a class over 0.1 (its detections and their slopes: a few dozen of the
    80 x H x W) and the positions where only the student does (what would become a new
    detection), each averaged over its own count, so neither the many empty positions nor
    the few peaks outweigh the other; the second weighs weights[3]. The logits at the teacher's positions too; box sizes
    weigh by the teacher's score where it sees something."""
    s_heat, s_logits, s_sizes = student[:3]
    t_heat, t_logits, t_sizes = teacher[:3]
    seen = (t_heat > 0.1).float() * (1 + 4 * t_heat)
    spurious = ((s_heat.detach() > 0.1) & (t_heat <= 0.1)).float()
    err = (s_heat - t_heat) ** 2
    heat = ((err * seen).sum() / (seen.sum() + 1e-6) + weights[3] * (err * spurious).sum() / (spurious.sum() + 1)) * weights[0]
    logits = (((s_logits.clamp(-8, 8) - t_logits.clamp(-8, 8)) ** 2) * seen).sum() / (seen.sum() + 1e-6) * weights[1]
    weight = t_heat.amax(1)  # N, H, W: where the teacher sees something
    weight = torch.where(weight > 0.1, weight, torch.zeros_like(weight)).unsqueeze(-1)
    sizes = ((s_sizes - t_sizes).abs() * weight).sum() / (weight.sum() * 4 + 1e-6) * weights[2]
    return heat, logits, sizes


def start(args):
    """Seeds and threads as `args` say; the graph, the plan, and the float teacher and quantized student over them."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    model = onnx.load(args.model)
    plan = json.load(open(args.plan))
    # The max-pooled score map is not learned from, but computed so that its quantizer
    # (the scores' own) is written out with the others.
    outputs = [HEAT, LOGITS, SIZES, PEAKS]
    return random.Random(args.seed), model, plan, OnnxGraph(model, outputs), OnnxGraph(model, outputs, plan)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', required=True, help='the prepared float graph (ONNX)')
    parser.add_argument('--plan', required=True, help='activation parameters and int8 convolutions (JSON)')
    parser.add_argument('--images', required=True, help='raw RGB frames, with an index beside them (<file>.json)')
    parser.add_argument('--out', required=True, help='the prepared graph with the learned weights (ONNX)')
    parser.add_argument('--params', required=True, help='the learned activation parameters (JSON)')
    parser.add_argument('--steps', type=int, default=500)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--accumulate', type=int, default=2, help='batches per update')
    parser.add_argument('--ema', type=float, default=0.99, help='decay of the moving average that is saved')
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--lr', type=float, default=1e-5)
    parser.add_argument('--bias-lr', type=float, default=3e-5)
    parser.add_argument('--ranges-and-biases', action='store_true', help='learn the activation ranges and the biases only; the weights stay the float model\'s')
    parser.add_argument('--range-lr', type=float, default=5e-4)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--log', type=int, default=25)
    parser.add_argument('--checkpoints', help='a folder for the weights and parameters every --checkpoint-every steps, for the curve')
    parser.add_argument('--checkpoint-every', type=int, default=300)
    parser.add_argument('--bias-correction', action='store_true', help="start from biases corrected for the weights' rounding, as a calibrated build's")
    parser.add_argument('--features', type=float, default=0.0, help='weight of every quantized activation matching the teacher\'s (relative squared error)')
    parser.add_argument('--weights', default='10,0.01,0.005,0.25', help="of the score map, the logits and the box sizes (pixels) in the loss, and of the student's own detections within the score map's")
    args = parser.parse_args()

    rng, model, plan, teacher, student = start(args)
    for p in teacher.parameters():
        p.requires_grad_(False)
    teacher.watched = student.watched
    names, images = load_images(args.images)
    if args.bias_correction:
        correct_biases(student, teacher, [augment(images[k], args.size, random.Random(k)) for k in range(0, len(images), 4)])
    print(f'{len(images)} images, {len(student.int8_convs)} int8 convolutions, {len(student.quantizers)} activation quantizers', flush=True)

    optimizer = torch.optim.Adam(
        [
            {'params': [p for p in student.weights.parameters() if p.dim() > 1], 'lr': args.lr if not args.ranges_and_biases else 0.0},
            # Biases move faster: they take up the mean shift each layer's rounding leaves.
            {'params': [p for p in student.weights.parameters() if p.dim() == 1], 'lr': args.bias_lr},
            {'params': [q.log_scale for q in student.quantizers.values() if q.log_scale.requires_grad], 'lr': args.range_lr},
        ]
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, args.steps) / args.steps)))
    started = time.time()
    running = None
    # What is saved is an exponential moving average of the learned values: one batch's
    # pull is noise, the average over the last hundred updates is the trend.
    learned = [p for p in student.parameters() if p.requires_grad]
    average = [p.detach().clone() for p in learned]
    for step in range(1, args.steps + 1):
        optimizer.zero_grad()
        parts = torch.zeros(5)
        for _ in range(args.accumulate):
            batch = torch.cat([augment(images[rng.randrange(len(images))], args.size, rng) for _ in range(args.batch)])
            t_features, s_features = ({}, {}) if args.features else (None, None)
            with torch.no_grad():
                target = teacher(batch, features=t_features)
            got = student(batch, quantized=True, features=s_features)
            heat, logits, sizes = losses(got, target, [float(w) for w in args.weights.split(',')])
            features = feature_loss(s_features, t_features) * args.features if args.features else torch.zeros(())
            loss = (heat + logits + sizes + features) / args.accumulate
            loss.backward()
            parts += torch.stack([loss * args.accumulate, heat, logits, sizes, features]).detach() / args.accumulate
        optimizer.step()
        schedule.step()
        with torch.no_grad():
            for a, p in zip(average, learned):
                a.mul_(args.ema).add_(p, alpha=1 - args.ema)
        running = parts if running is None else 0.9 * running + 0.1 * parts
        if step % args.log == 0 or step == args.steps:
            r = running.tolist()
            print(f'step {step}/{args.steps}  loss {r[0]:.5f}  heat {r[1]:.5f}  logits {r[2]:.5f}  sizes {r[3]:.5f}  features {r[4]:.5f}  {time.time() - started:.0f} s', flush=True)
        if args.checkpoints and step % args.checkpoint_every == 0 and step < args.steps:
            with swapped(learned, average):
                save(student, onnx.load(args.model), plan, f'{args.checkpoints}/step-{step}.onnx', f'{args.checkpoints}/step-{step}.json')

    with swapped(learned, average):
        save(student, model, plan, args.out, args.params)
    print(f'wrote {args.out} and {args.params}', flush=True)


@contextlib.contextmanager
def swapped(params, values):
    """`params` hold `values` for the duration (the averaged ones, to save them)."""
    kept = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p, v in zip(params, values):
            p.copy_(v)
    try:
        yield
    finally:
        with torch.no_grad():
            for p, k in zip(params, kept):
                p.copy_(k)


def save(student, model, plan, out, params_path):
    student.write_back(model)
    onnx.save(model, out)
    params = {name: student.quantizers[key].params() for name, key in student.quantizer_of.items()}
    missing = set(plan['activations']) - set(params)
    if missing:
        sys.exit(f'no parameters learned for {sorted(missing)[:3]}')
    with open(params_path, 'w') as f:
        json.dump({'activations': params}, f, indent=1, sort_keys=True)
        f.write('\n')


if __name__ == '__main__':
    sys.exit(main())
