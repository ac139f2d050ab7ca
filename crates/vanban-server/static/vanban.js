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
