// Load a waveform JSON the way the web player does (waveform-data) and print what it sees as JSON.
// Usage: node waveform_check.cjs path/to/waveform.json
"use strict";

const fs = require("node:fs");
const WaveformData = require("waveform-data");

const json = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const waveform = WaveformData.create(json);
const channel = waveform.channel(0);
const mins = channel.min_array();
const maxs = channel.max_array();
// A resample exercises the data the way a zoomed-out player view would.
const zoomed = waveform.resample({ width: Math.max(1, Math.min(100, waveform.length)) });

process.stdout.write(
  JSON.stringify({
    length: waveform.length,
    channels: waveform.channels,
    sample_rate: waveform.sample_rate,
    samples_per_pixel: waveform.scale,
    bits: waveform.bits,
    duration: waveform.duration,
    min: Math.min(...mins),
    max: Math.max(...maxs),
    first: [channel.min_sample(0), channel.max_sample(0)],
    resampled_length: zoomed.length,
  }) + "\n",
);
