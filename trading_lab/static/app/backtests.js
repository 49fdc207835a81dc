/* Backtest pages: a job's progress bar kept current from the jobs API, and line charts with
   several series (compared equity curves, signal accuracy and F1). Loaded from a file (CSP);
   the page marks the parts: data-job-poll="<job API url>" and canvas[data-chart="multi-line"]
   with data-chart-source (the id of a json_script holding {labels, series, percent}). */
(function () {
  'use strict'

  const PALETTE = ['#0d6efd', '#198754', '#fd7e14', '#6f42c1', '#dc3545', '#20c997']
  const FINISHED = ['succeeded', 'failed', 'cancelled']
  const POLL_MS = 1000

  function step (percent) {
    return Math.min(100, Math.max(0, Math.round(percent / 5) * 5))
  }

  function showProgress (box, job) {
    const bar = box.querySelector('.progress-bar')
    const track = box.querySelector('.progress')
    if (bar && track) {
      bar.className = bar.className.replace(/\bprogress-w-\d+\b/, 'progress-w-' + step(job.progress))
      bar.textContent = job.progress + '%'
      track.setAttribute('aria-valuenow', String(job.progress))
    }
    const message = box.querySelector('[data-job-message]')
    if (message && job.message) message.textContent = job.message
  }

  // Answers after which asking again cannot help: signed out, or the job is not (or no longer)
  // the user's to see.
  const GONE = [401, 403, 404]

  function stopPolling (box) {
    const message = box.querySelector('[data-job-message]')
    if (message) message.textContent = 'Progress is no longer available here: reload the page.'
  }

  function poll (box) {
    const url = box.dataset.jobPoll
    const tick = function () {
      fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
        .then(function (response) {
          if (response.ok) return response.json()
          if (GONE.indexOf(response.status) >= 0) return null
          // Throttled or a passing server error: ask again when the server says, else later.
          const seconds = Number(response.headers.get('Retry-After'))
          const error = new Error('HTTP ' + response.status)
          error.retryMs = seconds > 0 ? seconds * 1000 : POLL_MS * 5
          throw error
        })
        .then(function (job) {
          if (!job) {
            stopPolling(box)
            return
          }
          showProgress(box, job)
          if (FINISHED.indexOf(job.status) >= 0) {
            window.location.reload()
          } else {
            window.setTimeout(tick, POLL_MS)
          }
        })
        .catch(function (error) { window.setTimeout(tick, error.retryMs || POLL_MS * 5) })
    }
    window.setTimeout(tick, POLL_MS)
  }

  function textColour () {
    return getComputedStyle(document.body).getPropertyValue('--bs-body-color').trim() || '#212529'
  }

  function multiLine (canvas, data) {
    const percent = Boolean(data.percent)
    return new window.Chart(canvas, {
      type: 'line',
      data: {
        labels: data.labels,
        datasets: data.series.map(function (series, i) {
          return {
            label: series.label,
            data: series.values.map(function (v) { return v === null ? null : Number(v) }),
            borderColor: PALETTE[i % PALETTE.length],
            backgroundColor: PALETTE[i % PALETTE.length],
            pointRadius: data.labels.length > 60 ? 0 : 2,
            spanGaps: true,
            tension: 0.1
          }
        })
      },
      options: {
        aspectRatio: 2.4,
        animation: false,
        interaction: { mode: 'index', intersect: false },
        plugins: { legend: { labels: { color: textColour(), boxWidth: 12 } } },
        scales: {
          x: { ticks: { color: textColour(), maxTicksLimit: 6, autoSkip: true } },
          y: {
            ticks: {
              color: textColour(),
              callback: function (value) { return percent ? Math.round(value * 100) + '%' : value }
            }
          }
        }
      }
    })
  }

  function start () {
    document.querySelectorAll('[data-job-poll]').forEach(poll)
    if (!window.Chart) return
    document.querySelectorAll('canvas[data-chart="multi-line"]').forEach(function (canvas) {
      const source = document.getElementById(canvas.dataset.chartSource)
      if (source) multiLine(canvas, JSON.parse(source.textContent))
    })
  }

  document.addEventListener('DOMContentLoaded', start)
})()
