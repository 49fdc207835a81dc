/* Trading Lab bar charts, the pattern of charts.js: the page renders the data with
   json_script ({labels, datasets: [{label, values}]}) and marks the canvas with
   data-chart="bar" and data-chart-source (the data's id). No inline script (CSP). */
(function () {
  'use strict'

  const PALETTE = ['#198754', '#0d6efd', '#fd7e14', '#6f42c1', '#20c997', '#dc3545']

  function textColour () {
    return getComputedStyle(document.body).getPropertyValue('--bs-body-color').trim() || '#212529'
  }

  function barChart (canvas, data) {
    return new window.Chart(canvas, {
      type: 'bar',
      data: {
        labels: data.labels,
        datasets: data.datasets.map(function (set, i) {
          return {
            label: set.label,
            data: set.values.map(Number),
            backgroundColor: PALETTE[i % PALETTE.length],
            maxBarThickness: 64
          }
        })
      },
      options: {
        aspectRatio: 2.2,
        animation: false,
        plugins: {
          legend: { display: data.datasets.length > 1, labels: { color: textColour() } }
        },
        scales: {
          x: { ticks: { color: textColour() } },
          y: { beginAtZero: true, ticks: { color: textColour() } }
        }
      }
    })
  }

  function drawAll () {
    if (!window.Chart) return
    document.querySelectorAll('canvas[data-chart="bar"]').forEach(function (canvas) {
      const source = document.getElementById(canvas.dataset.chartSource)
      if (source) barChart(canvas, JSON.parse(source.textContent))
    })
  }

  document.addEventListener('DOMContentLoaded', drawAll)
})()
