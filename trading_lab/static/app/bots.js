/* The bot form's live preview: as the user types, post the DCA settings to the preview API
   (form[data-preview-url]) and draw the safety-order ladder, the required capital and whether
   the account's free balance covers it. Loaded from a file (CSP); the server checks everything
   again when the form is sent. */
(function () {
  'use strict'

  const CONFIG = ['base_order_size', 'safety_order_size', 'max_safety_orders',
    'price_deviation_pct', 'safety_order_step_scale', 'safety_order_volume_scale',
    'take_profit_pct', 'stop_loss_pct', 'cooldown_seconds']
  const LABELS = {
    base_order_size: 'Base order size',
    safety_order_size: 'Safety order size',
    max_safety_orders: 'Safety orders',
    price_deviation_pct: 'Price deviation %',
    safety_order_step_scale: 'Step scale',
    safety_order_volume_scale: 'Volume scale',
    take_profit_pct: 'Take profit %',
    stop_loss_pct: 'Stop loss %',
    cooldown_seconds: 'Cooldown',
    account: 'Paper account',
    instrument: 'Instrument'
  }
  // Until these have a value the preview would only list what is missing: wait for them.
  const REQUIRED = ['base_order_size', 'safety_order_size', 'max_safety_orders',
    'price_deviation_pct', 'take_profit_pct']
  const DELAY_MS = 250

  function plain (value) {
    if (value === null || value === undefined) return '—'
    const number = Number(value)
    if (!isFinite(number)) return String(value)
    return number.toLocaleString(undefined, { maximumFractionDigits: 8 })
  }

  function money (value) {
    if (value === null || value === undefined) return '—'
    return Number(value).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 })
  }

  function cell (text, className) {
    const td = document.createElement('td')
    td.textContent = text
    if (className) td.className = className
    return td
  }

  function body (form) {
    const config = {}
    CONFIG.forEach(function (name) {
      const input = form.elements[name]
      if (input && input.value.trim() !== '') config[name] = input.value.trim()
    })
    const data = { config: config }
    const account = form.elements.account
    const instrument = form.elements.instrument
    if (account && account.value) data.account = Number(account.value)
    if (instrument && instrument.value) data.instrument = Number(instrument.value)
    return data
  }

  function showErrors (box, errors) {
    box.replaceChildren()
    Object.keys(errors).forEach(function (key) {
      const name = key.replace(/^config\./, '')
      const line = document.createElement('div')
      line.textContent = (LABELS[name] || name) + ': ' + errors[key].join(' ')
      box.appendChild(line)
    })
    box.classList.toggle('d-none', !Object.keys(errors).length)
  }

  function draw (form, preview) {
    const rows = document.getElementById('bot-ladder-rows')
    rows.replaceChildren()
    preview.levels.forEach(function (level) {
      const tr = document.createElement('tr')
      const th = document.createElement('th')
      th.scope = 'row'
      th.textContent = level.number === 0 ? 'Base' : 'SO ' + level.number
      tr.appendChild(th)
      tr.appendChild(cell(level.number === 0 ? '—' : '−' + plain(level.deviation_pct) + '%', 'text-end'))
      tr.appendChild(cell(plain(level.trigger_price), 'text-end'))
      tr.appendChild(cell(money(level.size), 'text-end'))
      tr.appendChild(cell(money(level.total_size), 'text-end d-none d-sm-table-cell'))
      rows.appendChild(tr)
    })
    document.getElementById('bot-required-capital').textContent =
      money(preview.required_capital) + ' ' + preview.currency
    document.getElementById('bot-free-balance').textContent =
      preview.free_balance === null ? '—' : money(preview.free_balance) + ' ' + preview.currency
    const basis = document.getElementById('bot-preview-basis')
    basis.textContent = preview.price_date
      ? 'Drawn at the last close, ' + plain(preview.base_price) + ' on ' + preview.price_date + '; fees included in the capital.'
      : 'Drawn at a base price of ' + plain(preview.base_price) + ' (no price yet); fees included in the capital.'
    const fits = document.getElementById('bot-fits')
    fits.classList.remove('d-none', 'text-success', 'text-danger')
    if (preview.fits === null) {
      fits.classList.add('d-none')
    } else if (preview.fits) {
      fits.classList.add('text-success')
      fits.textContent = 'The account can fund a full deal.'
    } else {
      fits.classList.add('text-danger')
      fits.textContent = 'The account cannot fund a full deal: the bot will be refused.'
    }
  }

  function clear () {
    document.getElementById('bot-ladder-rows').replaceChildren()
    document.getElementById('bot-required-capital').textContent = '—'
    document.getElementById('bot-fits').classList.add('d-none')
  }

  function setup (form) {
    const token = form.elements.csrfmiddlewaretoken ? form.elements.csrfmiddlewaretoken.value : ''
    const errors = document.getElementById('bot-preview-errors')
    let timer = null
    let sent = 0

    function complete () {
      return REQUIRED.every(function (name) {
        const input = form.elements[name]
        return !input || input.value.trim() !== ''
      })
    }

    function refresh () {
      const mine = ++sent
      if (!complete()) {
        showErrors(errors, {})
        clear()
        return
      }
      fetch(form.dataset.previewUrl, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': token },
        body: JSON.stringify(body(form))
      })
        .then(function (response) {
          return response.json().then(function (data) { return { ok: response.ok, data: data } })
        })
        .then(function (answer) {
          if (mine !== sent) return // a later request is on its way
          if (answer.ok) {
            showErrors(errors, {})
            draw(form, answer.data)
          } else {
            showErrors(errors, answer.data.errors || { preview: [answer.data.detail || 'Invalid input.'] })
            clear()
          }
        })
        .catch(function () { /* offline: the server checks the form on submit */ })
    }

    function later () {
      window.clearTimeout(timer)
      timer = window.setTimeout(refresh, DELAY_MS)
    }

    form.addEventListener('input', later)
    form.addEventListener('change', later)
    refresh()
  }

  document.addEventListener('DOMContentLoaded', function () {
    const form = document.getElementById('bot-form')
    if (form && form.dataset.previewUrl) setup(form)
  })
})()
