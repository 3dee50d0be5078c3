// Confirmations that name what they act on: a form with data-tl-confirm asks that exact question before it is sent.
// (A file of our own, so the Content Security Policy needs no inline handler for messages that differ per row.)
document.addEventListener('submit', function (event) {
  var form = event.target;
  var question = form && form.getAttribute && form.getAttribute('data-tl-confirm');
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
}, true);

// The list's bulk "With selected > Delete" asks a question naming the selected rows and what they still hold:
// "Delete 3 trunks (ACME/main, ACME/b, BETA/x)? They still ring 40 numbers, so the deletion will be refused ...".
// Each row's delete form carries its name and counts (data-tl-name, data-tl-facts, computed by the server); the words
// are in #tl-bulk-delete (ServiceModelView.bulk_delete_words). This listener runs before Flask-Admin's inline handler
// (capture phase): it asks, then submits Flask-Admin's hidden action form itself, or stops there.
var TL_SHOWN_NAMES = 3;

function tlBulkDeleteQuestion(rows, words) {
  var n = rows.length;
  var names = rows.slice(0, TL_SHOWN_NAMES).map(function (r) { return r.name; }).join(', ');
  if (n > TL_SHOWN_NAMES) { names += ' and ' + (n - TL_SHOWN_NAMES) + ' more'; }
  var question = 'Delete ' + n + ' ' + (n === 1 ? words.one : words.many) + ' (' + names + ')?';
  var said = [];
  Object.keys(words.facts).forEach(function (key) {
    var total = 0;
    rows.forEach(function (r) { total += r.facts[key] || 0; });
    if (total > 0) {
      var forms = words.facts[key];
      said.push((total === 1 ? forms[0] : forms[1]).replace('{count}', total.toLocaleString('en-US')));
    }
  });
  var which = n === 1 ? 0 : 1;  // lead and tail: [for one row, for several]
  if (said.length) {
    // One row and a lead that says it all ("it serves a client"): the lead alone; else the lead and the counts.
    var text = (n === 1 && words.lead[0] && words.lead[1] === '') ? words.lead[0] : words.lead[which] + said.join(' and ');
    text += ', ' + words.refused;
    question += ' ' + text.charAt(0).toUpperCase() + text.slice(1);
  } else if (words.tail[which]) {
    question += ' ' + words.tail[which];
  }
  return question;
}

document.addEventListener('click', function (event) {
  var link = event.target && event.target.closest && event.target.closest('a.dropdown-item');
  var wordsBox = document.getElementById('tl-bulk-delete');
  if (!link || !wordsBox || (link.getAttribute('onclick') || '').indexOf("execute('delete')") < 0) { return; }
  var checked = Array.prototype.slice.call(document.querySelectorAll('input.action-checkbox:checked'));
  if (!checked.length) { return; }  // Flask-Admin's own handler says to select a record
  event.preventDefault();
  event.stopPropagation();
  var rows = checked.map(function (box) {
    var form = box.closest('tr') && box.closest('tr').querySelector('form[data-tl-name]');
    return {name: form ? form.getAttribute('data-tl-name') : box.value,
            facts: form ? JSON.parse(form.getAttribute('data-tl-facts') || '{}') : {}};
  });
  if (!window.confirm(tlBulkDeleteQuestion(rows, JSON.parse(wordsBox.getAttribute('data-words'))))) { return; }
  var actionForm = document.getElementById('action_form');
  actionForm.querySelector('#action').value = 'delete';
  Array.prototype.forEach.call(actionForm.querySelectorAll('input.action-checkbox'), function (old) { old.remove(); });
  checked.forEach(function (box) { actionForm.appendChild(box.cloneNode()); });
  actionForm.submit();
}, true);
