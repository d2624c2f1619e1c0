// The progress protocol with no library: one JSON object per line on stdout.
const at = process.argv.indexOf('--params-json');
const params = { count: 3, ...(at >= 0 ? JSON.parse(process.argv[at + 1]) : {}) };
const json = process.env.STRATEGY_PROGRESS === 'json'; // set by the runner; by hand: plain output
const emit = (event) => json && console.log(JSON.stringify(event));
for (let i = 1; i <= params.count; i++) {
  emit({ event_type: 'progress', stage: 'counting', progress_percent: (100 * i) / params.count,
         message: `Counted ${i}`, current_item: String(i), completed_items: i, total_items: params.count });
}
emit({ event_type: 'log', level: 'warning', message: 'counting is all this example does' });
const result = { counted: params.count };
if (json) emit({ event_type: 'result', data: result });
else console.log(JSON.stringify(result));
