// Search from file:// (no server): browsers refuse `new Worker()` there, so the search worker runs in a hidden
// iframe instead (what the `iframe-worker` shim that mkdocs-material's offline plugin names does; this local copy
// keeps the site free of CDN requests). Served over http(s), this does nothing.
(function () {
  if (location.protocol !== 'file:') return;
  function IframeWorker(url) {
    const frame = document.createElement('iframe');
    frame.hidden = true;
    document.body ? document.body.appendChild(frame) : document.documentElement.appendChild(frame);
    const win = frame.contentWindow, self = this, queue = [];
    let ready = false;
    this.onmessage = null; this.onerror = null; this._listeners = [];
    const deliver = data => {
      const ev = new MessageEvent('message', {data});
      if (self.onmessage) self.onmessage(ev);
      self._listeners.forEach(f => f(ev));
    };
    const post = win.postMessage.bind(win);
    win.postMessage = data => setTimeout(() => deliver(data), 0);
    win.importScripts = (...urls) => urls.forEach(u => {
      const x = new XMLHttpRequest(); x.open('GET', new URL(u, url).href, false); x.send(); win.eval(x.responseText);
    });
    const s = win.document.createElement('script');
    s.src = new URL(url, location.href).href;
    s.onload = () => { ready = true; queue.forEach(m => post(m, '*')); queue.length = 0; };
    s.onerror = e => self.onerror && self.onerror(e);
    win.document.head.appendChild(s);
    this.postMessage = data => ready ? post(data, '*') : queue.push(data);
    this.addEventListener = (t, f) => { if (t === 'message') self._listeners.push(f); };
    this.removeEventListener = (t, f) => { self._listeners = self._listeners.filter(g => g !== f); };
    this.terminate = () => frame.remove();
  }
  window.Worker = IframeWorker;
})();
