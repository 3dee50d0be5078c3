// Confirmations that name what they act on: a form with data-tl-confirm asks that exact question before it is sent.
// (A file of our own, so the Content Security Policy needs no inline handler for messages that differ per row.)
document.addEventListener('submit', function (event) {
  var form = event.target;
  var question = form && form.getAttribute && form.getAttribute('data-tl-confirm');
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
}, true);
