#!/usr/bin/python3
"""Block-wise reconstruction of the INT8 CenterNet (run by `npm run models:distill -- --blockwise`).

Dev-time only, as scripts/distill.py, whose graph loader and fake quantization it uses.
Instead of one loss at the network's end, each block (a MobileNetV3 expanded_conv, a head
stage) is fitted on its own, in order, as BRECQ does: its quantized copy reads what the
already fitted quantized blocks before it produce, and learns its weights, biases and
activation ranges so that its outputs match the float block's outputs on the float
inputs. Half of its input values, drawn anew at each step, are the float ones instead
(QDrop), so that it does not fit the particular errors of the blocks before it. A block
asks far fewer images than the whole network: its target is every value it outputs, not
a few dozen peaks of a score map.
"""
import argparse
import math
import sys
import time

import torch

from distill import HEAT, PEAKS, SIZES, augment, correct_biases, load_images, save, start


def block_key(name):
    parts = name.split('/')
    return '/'.join(parts[:3]) if len(parts) > 2 and parts[1] in ('MobilenetV3', 'CenternetHead') else '/'.join(parts[:2])


def blocks(graph):
    """The graph's nodes in runs of one name scope; a run without a convolution joins the one before it (the first, the one after)."""
    runs = []
    for n in graph.nodes:
        k = block_key(n.name)
        if runs and runs[-1][0] == k:
            runs[-1][1].append(n)
        else:
            runs.append((k, [n]))
    merged = []
    for k, nodes in runs:
        if merged and (not any(n.op_type == 'Conv' for n in nodes) or not any(n.op_type == 'Conv' for n in merged[-1][1])):
            merged[-1] = (merged[-1][0], merged[-1][1] + nodes)
        else:
            merged.append((k, nodes))
    return merged


def boundaries(graph, parts):
    """Each block's inputs (values it reads from before it) and outputs (values read after it, or the graph's outputs)."""
    produced_in = {}
    for b, (_, nodes) in enumerate(parts):
        for n in nodes:
            for o in n.output:
                produced_in[o] = b
    read_by = {}
    for b, (_, nodes) in enumerate(parts):
        for n in nodes:
            for i in n.input:
                if i in produced_in:
                    read_by.setdefault(i, set()).add(b)
    result = []
    for b, (_, nodes) in enumerate(parts):
        ins = sorted({i for n in nodes for i in n.input if i and (produced_in.get(i, -1) < b) and (i in produced_in or i == graph.input_name)})
        outs = sorted({o for n in nodes for o in n.output if o in graph.outputs or any(r > b for r in read_by.get(o, ()))})
        result.append((ins, outs))
    return result


def block_loss(name, got, want, heat):
    """How far a block's output is from the float one: the score map where it matters and
    the box sizes where something is seen, as scripts/distill.py weighs them; any other
    value, its squared error relative to the float value's mean square."""
    if name == HEAT:
        seen = (want > 0.1).float() * (1 + 4 * want)
        spurious = ((got.detach() > 0.1) & (want <= 0.1)).float()
        err = (got - want) ** 2
        level = (want**2 * seen).sum() / (seen.sum() + 1e-6) + 1e-3  # a view where nothing is seen has none
        return ((err * seen).sum() / (seen.sum() + 1e-6) + 0.25 * (err * spurious).sum() / (spurious.sum() + 1)) / level
    if name == SIZES:
        weight = heat.amax(1)
        weight = torch.where(weight > 0.1, weight, torch.zeros_like(weight)).unsqueeze(-1)
        return ((got - want).abs() * weight).sum() / ((want.abs() * weight).sum() + 1e-6)
    return ((got - want) ** 2).mean() / ((want ** 2).mean() + 1e-8)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', required=True)
    parser.add_argument('--plan', required=True)
    parser.add_argument('--images', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--params', required=True)
    parser.add_argument('--views', type=int, default=32, help='views of the training images the blocks are fitted on')
    parser.add_argument('--steps', type=int, default=100, help='updates per block')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--lr', type=float, default=0.1, help="a weight's largest move per update, in its int8 steps")
    parser.add_argument('--bias-lr', type=float, default=1e-3, help="a bias's largest move per update, relative to the tensor's mean level")
    parser.add_argument('--range-lr', type=float, default=1e-3)
    parser.add_argument('--drop', type=float, default=0.5, help='share of a block\'s input values taken from the float model at each step (QDrop)')
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args()

    rng, model, plan, teacher, student = start(args)
    for p in student.parameters():
        p.requires_grad_(False)
    _, images = load_images(args.images)
    views = [augment(images[rng.randrange(len(images))], args.size, rng) for _ in range(args.views)]
    correct_biases(student, teacher, views[: max(1, len(views) // 4)])
    parts = blocks(student)
    edges = boundaries(student, parts)
    kept = {t for ins, outs in edges for t in ins + outs}
    print(f'{len(views)} views, {len(parts)} blocks', flush=True)

    # The float model's values at every block boundary, for all views.
    float_values = {}
    with torch.no_grad():
        for v in views:
            values = {teacher.input_name: v}
            teacher.run(teacher.nodes, values)
            for t in kept:
                float_values.setdefault(t, []).append(values[t])
    float_values = {t: torch.cat(v) for t, v in float_values.items()}
    quantized_values = {teacher.input_name: float_values[teacher.input_name]}
    chunks = [list(range(k, min(k + 8, len(views)))) for k in range(0, len(views), 8)]
    started = time.time()
    for b, ((name, nodes), (ins, outs)) in enumerate(zip(parts, edges)):
        # The max-pooled score map is the score map's copy: not scored apart.
        scored = [o for o in outs if o != PEAKS]
        # Each weight tensor moves in steps of its own size: a tenth of its int8 step (the
        # largest |w| over 127) at most per update at the start, a bias a thousandth of its
        # mean level. The float first convolution is not learned.
        groups = []
        for n in nodes:
            if n.op_type != 'Conv' or n.name not in student.int8_convs:
                continue
            w = student.weights[student.key[n.input[1]]]
            groups.append({'params': [w], 'lr': args.lr * w.abs().max().item() / 127})
            if len(n.input) > 2 and n.input[2] in student.key:
                bias = student.weights[student.key[n.input[2]]]
                groups.append({'params': [bias], 'lr': args.bias_lr * (bias.abs().mean().item() + 1e-3)})
        scales = list({student.quantizers[student.quantizer_of[o]].log_scale for n in nodes for o in n.output if o in student.quantizer_of and o != HEAT})
        if scales:
            groups.append({'params': scales, 'lr': args.range_lr})
        learned = [p for g in groups for p in g['params']]
        for p in learned:
            p.requires_grad_(True)
        optimizer = torch.optim.Adam(groups) if groups else None
        schedule = optimizer and torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, args.steps) / args.steps)))

        def loss_on(idx, drop):
            values = {}
            for i in ins:
                q = quantized_values[i][idx]
                if drop:
                    f = float_values[i][idx]
                    q = torch.where(torch.rand_like(q) < drop, f, q)
                values[i] = q
            student.run(nodes, values, quantized=True)
            return torch.stack([block_loss(o, values[o], float_values[o][idx], float_values[HEAT][idx]) for o in scored]).mean()

        with torch.no_grad():
            before = sum(loss_on(idx, 0).item() for idx in chunks) / len(chunks)
        if optimizer:
            for step in range(args.steps):
                optimizer.zero_grad()
                loss = loss_on(rng.sample(range(len(views)), args.batch), args.drop)
                loss.backward()
                optimizer.step()
                schedule.step()
        for p in learned:
            p.requires_grad_(False)
        with torch.no_grad():
            for idx in chunks:
                values = {i: quantized_values[i][idx] for i in ins}
                student.run(nodes, values, quantized=True)
                for o in outs:
                    quantized_values.setdefault(o + '#parts', []).append(values[o])
            for o in outs:
                quantized_values[o] = torch.cat(quantized_values.pop(o + '#parts'))
            after = sum(block_loss(o, quantized_values[o], float_values[o], float_values[HEAT]).item() for o in scored) / len(scored)
        # Values no later block reads are let go.
        later = {t for i2, _ in edges[b + 1:] for t in i2}
        for t in list(quantized_values):
            if t not in later and t not in student.outputs:
                del quantized_values[t]
        print(f'block {b + 1}/{len(parts)} {name}: {len(nodes)} nodes, relative error {before:.4f} -> {after:.4f}  {time.time() - started:.0f} s', flush=True)

    save(student, model, plan, args.out, args.params)
    print(f'wrote {args.out} and {args.params}', flush=True)


if __name__ == '__main__':
    sys.exit(main())
