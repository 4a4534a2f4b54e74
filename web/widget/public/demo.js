// The demo host page's script (public/demo.html): embeds the widget with the website id from
// `?website=<id>` (and `&lang=`). A file of its own: `omnidesk serve` sends its HTML pages with a
// CSP that allows scripts from the server itself only, never inline ones.
(function () {
  var q = new URLSearchParams(location.search);
  var id = q.get('website');
  if (!id) { document.getElementById('note').textContent = 'No ?website= given.'; return; }
  var s = document.createElement('script');
  s.src = '/widget.js';
  s.async = true;
  s.setAttribute('data-website', id);
  if (q.get('lang')) s.setAttribute('data-lang', q.get('lang'));
  document.body.appendChild(s);
})();
