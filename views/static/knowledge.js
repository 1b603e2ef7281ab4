// The Knowledge page: files dropped on the drop zone go into its file input (and are named
// below it), so the form uploads them like picked ones; a document opened at a page scrolls there.
(function () {
  'use strict';
  function names(zone, input) {
    var list = zone.querySelector('.drop-names');
    if (!list) return;
    list.textContent = '';
    Array.prototype.forEach.call(input.files, function (file) {
      var item = document.createElement('li');
      item.textContent = file.name;
      list.appendChild(item);
    });
  }
  function setup() {
    document.querySelectorAll('[data-drop-zone]').forEach(function (zone) {
      if (zone.dataset.ready) return;
      zone.dataset.ready = '1';
      var input = zone.querySelector('input[type=file]');
      if (!input) return;
      input.addEventListener('change', function () { names(zone, input); });
      ['dragenter', 'dragover'].forEach(function (type) {
        zone.addEventListener(type, function (event) {
          event.preventDefault();
          zone.classList.add('dragging');
        });
      });
      zone.addEventListener('dragleave', function () { zone.classList.remove('dragging'); });
      zone.addEventListener('drop', function (event) {
        event.preventDefault();
        zone.classList.remove('dragging');
        if (!event.dataTransfer || !event.dataTransfer.files.length) return;
        input.files = event.dataTransfer.files;
        names(zone, input);
      });
    });
    var current = document.querySelector('.doc-page.current');
    if (current && !current.dataset.scrolled) {
      current.dataset.scrolled = '1';
      current.scrollIntoView({ block: 'start' });
    }
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', setup);
  else setup();
  document.addEventListener('htmx:after:swap', setup);
})();
