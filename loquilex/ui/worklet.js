// Runs on the audio thread: mono, anti-alias low-pass, downsample to 16 kHz, PCM16 in
// 100 ms chunks posted to the page.
const TAPS = 63;

function lowpass(cutoff) {
  // Windowed-sinc FIR; cutoff in cycles per input sample.
  const taps = new Float32Array(TAPS);
  const mid = (TAPS - 1) / 2;
  let sum = 0;
  for (let i = 0; i < TAPS; i++) {
    const n = i - mid;
    const sinc = n === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * n) / (Math.PI * n);
    const hamming = 0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (TAPS - 1));
    taps[i] = sinc * hamming;
    sum += taps[i];
  }
  for (let i = 0; i < TAPS; i++) taps[i] /= sum;
  return taps;
}

class PcmDownsampler extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / 16000;
    this.taps = lowpass(Math.min(0.45 * 16000 / sampleRate, 0.5));
    this.history = new Float32Array(TAPS); // ring of the last input samples
    this.head = 0;
    this.next = 0;                          // input samples until the next output sample
    this.out = new Int16Array(1600);
    this.fill = 0;
  }

  filtered() {
    let acc = 0;
    let idx = this.head;
    for (let k = 0; k < TAPS; k++) {
      acc += this.taps[k] * this.history[idx];
      idx = idx + 1 === TAPS ? 0 : idx + 1;
    }
    return acc;
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    const channels = input.length;
    for (let i = 0; i < input[0].length; i++) {
      let s = 0;
      for (let c = 0; c < channels; c++) s += input[c][i];
      this.history[this.head] = s / channels;
      this.head = this.head + 1 === TAPS ? 0 : this.head + 1;
      this.next -= 1;
      if (this.next <= 0) {
        // Nearest-sample decimation after the filter: at 48 kHz the step is exactly 3.
        this.next += this.step;
        const v = Math.max(-1, Math.min(1, this.filtered()));
        this.out[this.fill++] = v < 0 ? v * 0x8000 : v * 0x7fff;
        if (this.fill === this.out.length) {
          this.port.postMessage(this.out.buffer, [this.out.buffer]);
          this.out = new Int16Array(1600);
          this.fill = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor("pcm-downsampler", PcmDownsampler);
