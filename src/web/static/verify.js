// The /verify page: loads the verifier (WebAssembly, built from the crate `verifier`) and checks
// the files dropped here in the browser. Nothing is sent anywhere: the only request is the one
// that fetched the verifier itself.
'use strict';
(async () => {
  const form = document.getElementById('verify');
  const status = document.getElementById('result');
  const lines = document.getElementById('result-text');
  const say = (state, label, text) => {
    status.dataset.state = state;
    status.textContent = label;
    lines.textContent = text;
  };
  let wasm;
  try {
    const resp = await fetch('/verify/verifier.wasm');
    if (!resp.ok) throw new Error(`${resp.status}: ${await resp.text()}`);
    wasm = (await WebAssembly.instantiate(await resp.arrayBuffer(), {})).instance.exports;
  } catch (e) {
    say('unavailable', form.dataset.unavailable, String(e.message || e));
    return;
  }
  form.dataset.ready = 'true';
  const text = (input) => (input.files.length ? input.files[0].text() : Promise.resolve(null));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const request = {
      bundle: (await text(form.elements.bundle)) ?? '',
      trust: await text(form.elements.trust),
      ledger_key: form.elements.ledger_key.value,
      trust_bundle_keys: form.elements.trust_bundle_keys.checked,
    };
    const bytes = new TextEncoder().encode(JSON.stringify(request));
    const at = wasm.input_buffer(bytes.length);
    new Uint8Array(wasm.memory.buffer, at, bytes.length).set(bytes);
    const n = wasm.verify();
    const answer = JSON.parse(new TextDecoder().decode(new Uint8Array(wasm.memory.buffer, wasm.output_buffer(), n)));
    if (answer.ok) say('ok', form.dataset.ok, answer.text);
    else if (answer.input) say('input', form.dataset.input, answer.error);
    else say('failed', form.dataset.failed, `FAILED: ${answer.error}`);
  });
})();
