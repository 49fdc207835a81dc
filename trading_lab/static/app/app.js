/* Trading Lab page behaviour. Loaded from a file because the Content-Security-Policy allows
   no inline script: every behaviour hangs off data attributes, not on*= handlers. */
(function () {
  'use strict'

  const root = document.documentElement

  // Theme: the server renders light or dark; "system" follows the device setting, live.
  function applyTheme () {
    if (root.dataset.themePreference !== 'system') return
    const dark = window.matchMedia('(prefers-color-scheme: dark)').matches
    root.setAttribute('data-bs-theme', dark ? 'dark' : 'light')
  }
  applyTheme()
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', applyTheme)

  // <form data-confirm="..."> or <button data-confirm="..."> asks before submitting.
  document.addEventListener('submit', function (event) {
    const submitter = event.submitter
    const message = (submitter && submitter.dataset.confirm) || event.target.dataset.confirm
    if (message && !window.confirm(message)) {
      event.preventDefault()
    }
  })

  // <button data-copy-target="#id"> copies that field's value and says so.
  document.addEventListener('click', function (event) {
    const button = event.target.closest('[data-copy-target]')
    if (!button) return
    const field = document.querySelector(button.dataset.copyTarget)
    if (!field) return
    field.select()
    const done = function () {
      const label = button.querySelector('[data-copy-label]')
      if (label) label.textContent = 'Copied'
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {})
    } else if (document.execCommand('copy')) {
      done()
    }
  })

  // A checkbox with data-leave-guard warns before leaving the page until it is ticked
  // (recovery codes shown once: leaving without saving them loses them).
  function guardLeaving () {
    const box = document.querySelector('[data-leave-guard]')
    if (!box) return
    const warn = function (event) { event.preventDefault() }
    const update = function () {
      if (box.checked) {
        window.removeEventListener('beforeunload', warn)
      } else {
        window.addEventListener('beforeunload', warn)
      }
    }
    box.addEventListener('change', update)
    update()
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', guardLeaving)
  } else {
    guardLeaving()
  }
})()
