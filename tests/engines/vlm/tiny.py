"""A tiny, randomly initialised Qwen2-VL / Qwen2.5-VL / Qwen3-VL checkpoint written to a directory.

Everything a real checkpoint directory has, made here (no hub access): a byte-level
BPE tokenizer with the Qwen special tokens and chat template, preprocessor_config.json,
config.json and safetensors weights. Output text is garbage; shapes, token accounting
and the engine's plumbing are real.

``mode``: ``normal`` (end-of-sequence logits zeroed, so generation runs to the budget),
``loop`` (token mixing off: the next token depends on the current one only, so greedy
decoding falls into a short cycle) or ``eos`` (all logits zero: the first token is
``<|endoftext|>``, an end of sequence).
"""

from __future__ import annotations

import json
from pathlib import Path

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
           "<|image_pad|>", "<|video_pad|>", "<|vision_pad|>"]
CORPUS = [
    "Please output only the text content from the image without any additional descriptions.",
    '```json\n{"rotate_rect": [12, 34, 56, 78, 90], "text": "hello"}\n```',
    "<table><tr><td>1</td></tr></table> $$E = mc^2$$ \\documentclass{article}",
    "定位所有的文字行，并且返回旋转矩形的坐标结果。假设你是一名信息提取专家。",
    "You are a helpful assistant.",
]
TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build(out: Path, arch: str = "qwen2_vl", mode: str = "normal", seed: int = 0) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    out.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=420, special_tokens=SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 4, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>")
    fast.chat_template = TEMPLATE
    fast.save_pretrained(out)
    ids = {s: fast.convert_tokens_to_ids(s) for s in SPECIAL}
    (out / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "Qwen2VLImageProcessor",
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "rescale_factor": 1 / 255, "patch_size": 14, "merge_size": 2, "temporal_patch_size": 2,
        "min_pixels": 3136, "max_pixels": 12845056,
    }))
    text = dict(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=8192,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                 "mrope_section": [2, 3, 3]},
                bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                pad_token_id=ids["<|endoftext|>"])
    special = dict(image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                   vision_start_token_id=ids["<|vision_start|>"],
                   vision_end_token_id=ids["<|vision_end|>"])
    if arch == "qwen2_vl":
        from transformers import Qwen2VLConfig as Config
        from transformers import Qwen2VLForConditionalGeneration as Model

        vision = dict(depth=1, embed_dim=32, hidden_size=32, num_heads=2, mlp_ratio=2,
                      patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
    elif arch == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig as Config
        from transformers import Qwen2_5_VLForConditionalGeneration as Model

        vision = dict(depth=1, hidden_size=32, out_hidden_size=32, intermediate_size=64, num_heads=2,
                      patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                      fullatt_block_indexes=[0])
    elif arch == "qwen3_vl":
        from transformers import Qwen3VLConfig as Config
        from transformers import Qwen3VLForConditionalGeneration as Model

        text.update(head_dim=16, rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                                  "mrope_section": [2, 3, 3],
                                                  "mrope_interleaved": True})
        vision = dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=16,
                      spatial_merge_size=2, temporal_patch_size=2, out_hidden_size=32,
                      num_position_embeddings=64, deepstack_visual_indexes=[0])
    else:
        raise ValueError(arch)
    if arch == "qwen3_vl":
        pre = json.loads((out / "preprocessor_config.json").read_text())
        pre.update(image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5], patch_size=16)
        (out / "preprocessor_config.json").write_text(json.dumps(pre))
    torch.manual_seed(seed)
    model = Model(Config(text_config=text, vision_config=vision, **special))
    lm = model.lm_head.weight
    with torch.no_grad():
        if mode == "eos":
            lm.zero_()
        else:
            for name in ("<|endoftext|>", "<|im_end|>"):
                lm[ids[name]] = 0.0
        if mode == "loop":
            for module_name, module in model.named_modules():
                if module_name.endswith(("o_proj", "down_proj")) and "visual" not in module_name:
                    module.weight.zero_()
    model.generation_config.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    model.save_pretrained(out)
    return out
