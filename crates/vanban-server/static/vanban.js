// vanban's own script. The Content-Security-Policy allows no inline script or handler, so
// behaviour that pages declare in attributes is wired here.
//
// <form data-confirm="…">: asks before the form is sent (revoking a certificate, …).
document.addEventListener('submit', (event) => {
  const form = event.target.closest('form[data-confirm]');
  if (form && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// On a phone the menu folds behind a button (only when this script runs: without it the
// menu stays open).
document.documentElement.classList.add('js');
document.addEventListener('click', (event) => {
  const toggle = event.target.closest('.menu-toggle');
  if (!toggle) return;
  const header = toggle.closest('header');
  const open = header.classList.toggle('open');
  toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
});

// <a data-back>: goes back to the page the user came from (an error page's way out),
// else follows its link.
document.addEventListener('click', (event) => {
  const back = event.target.closest('a[data-back]');
  if (back && window.history.length > 1 && document.referrer) {
    event.preventDefault();
    window.history.back();
  }
});
