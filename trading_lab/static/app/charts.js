/* Trading Lab charts. The page renders each chart's data with json_script and marks its
   canvas with data-chart (the kind) and data-chart-source (the id of that data): no inline
   script, so the Content-Security-Policy holds. Chart.js comes from static/vendor. */
(function () {
  'use strict'

  const PALETTE = ['#0d6efd', '#198754', '#fd7e14', '#6f42c1', '#20c997', '#dc3545',
    '#0dcaf0', '#ffc107', '#6c757d', '#d63384']

  function textColour () {
    return getComputedStyle(document.body).getPropertyValue('--bs-body-color').trim() || '#212529'
  }

  function readData (canvas) {
    const source = document.getElementById(canvas.dataset.chartSource)
    return source ? JSON.parse(source.textContent) : null
  }

  function lineChart (canvas, data) {
    return new window.Chart(canvas, {
      type: 'line',
      data: {
        labels: data.labels,
        datasets: [{
          label: 'Value (' + data.currency + ')',
          data: data.values.map(Number),
          borderColor: PALETTE[0],
          backgroundColor: 'rgba(13, 110, 253, 0.1)',
          fill: true,
          pointRadius: 0,
          tension: 0.1
        }]
      },
      options: {
        aspectRatio: 2.4,
        animation: false,
        interaction: { mode: 'index', intersect: false },
        plugins: { legend: { display: false } },
        scales: {
          x: { ticks: { color: textColour(), maxTicksLimit: 6, autoSkip: true } },
          y: { ticks: { color: textColour() } }
        }
      }
    })
  }

  function doughnutChart (canvas, data) {
    return new window.Chart(canvas, {
      type: 'doughnut',
      data: {
        labels: data.labels,
        datasets: [{
          data: data.values.map(Number),
          backgroundColor: data.labels.map(function (_, i) { return PALETTE[i % PALETTE.length] })
        }]
      },
      options: {
        aspectRatio: 1.6,
        animation: false,
        plugins: { legend: { position: 'right', labels: { color: textColour() } } }
      }
    })
  }

  const KINDS = { line: lineChart, doughnut: doughnutChart }

  function drawAll () {
    if (!window.Chart) return
    document.querySelectorAll('canvas[data-chart]').forEach(function (canvas) {
      const draw = KINDS[canvas.dataset.chart]
      const data = readData(canvas)
      if (draw && data) draw(canvas, data)
    })
  }

  document.addEventListener('DOMContentLoaded', drawAll)
})()
