// The new-job form: defaults and validation come from the API's own zod schema (CreateJobRequest),
// so the browser rejects exactly what the server would, naming the same field.
import { CreateJobRequest, OptimizerSpec, type CreateJobRequestInput, type Dataset, type Task } from '@unroll/protocol';
import { h, uid } from './dom.ts';

/** Defaults as the API fills them in. */
export const JOB_DEFAULTS = CreateJobRequest.parse({ datasetId: 'ds_00000000', task: 'lm' });

interface Field {
  /** Request path, as the API names it in `param`. */
  param: string;
  label: string;
  input: HTMLInputElement | HTMLSelectElement;
  error: HTMLElement;
  wrapper: HTMLElement;
}

export interface JobForm {
  element: HTMLFormElement;
  setDatasets(datasets: Dataset[], selectId?: string): void;
  /** Shows an error from the server next to its field (or at the form's end). */
  showError(param: string | undefined, message: string): void;
}

function taskForDataset(ds: Dataset | undefined): Task {
  if (!ds || ds.kind === 'text') return 'lm';
  const task = (ds.stats as { task?: unknown }).task;
  return task === 'classification' ? 'classification' : 'regression';
}

export function createJobForm(onSubmit: (request: CreateJobRequestInput) => Promise<void>): JobForm {
  const fields = new Map<string, Field>();
  let datasets: Dataset[] = [];
  const formError = h('p', { class: 'form-error', role: 'alert' });

  function field(param: string, label: string, input: HTMLInputElement | HTMLSelectElement, hint?: string): HTMLElement {
    const id = uid('f');
    input.id = id;
    input.name = param;
    const error = h('span', { class: 'field-error', id: `${id}-error` });
    const hintEl = hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null;
    input.setAttribute('aria-describedby', [hintEl ? `${id}-hint` : '', `${id}-error`].filter(Boolean).join(' '));
    const wrapper = h('div', { class: 'field' }, h('label', { for: id }, label), input, hintEl, error);
    fields.set(param, { param, label, input, error, wrapper });
    return wrapper;
  }

  const numberInput = (value: number | undefined, attrs: Record<string, unknown> = {}) =>
    h('input', { type: 'number', inputmode: 'decimal', value: value === undefined ? '' : String(value), ...attrs });
  const select = (options: readonly string[], value: string) => {
    const el = h('select', {}, ...options.map((o) => h('option', { value: o }, o)));
    el.value = value;
    return el;
  };

  const t = JOB_DEFAULTS.training;
  const bptt = t.bptt.mode === 'truncated' ? t.bptt : { k1: 25, k2: 25 };
  const datasetSelect = h('select', { required: true }, h('option', { value: '' }, 'Upload a dataset first'));
  const taskSelect = select(['lm', 'regression', 'classification'], 'lm');
  const optimizerSelect = select(['adam', 'adamw', 'sgd', 'rmsprop', 'adagrad'], t.optimizer.name);
  const lrInput = numberInput(undefined, { step: 'any', min: '0', placeholder: String(t.optimizer.lr) });
  const bpttSelect = select(['truncated', 'full'], t.bptt.mode);
  const k1 = numberInput(bptt.k1, { min: '1', step: '1' });
  const k2 = numberInput(bptt.k2, { min: '1', step: '1' });
  const clipNorm = numberInput(t.clip.mode === 'norm' ? t.clip.maxNorm : undefined, { step: 'any', min: '0' });

  optimizerSelect.addEventListener('change', () => {
    // Each optimizer has its own default learning rate: show it.
    const defaults = OptimizerSpec.parse({ name: optimizerSelect.value });
    lrInput.placeholder = String(defaults.lr);
  });
  bpttSelect.addEventListener('change', () => {
    k1.disabled = k2.disabled = bpttSelect.value === 'full';
  });
  datasetSelect.addEventListener('change', () => {
    taskSelect.value = taskForDataset(datasets.find((d) => d.id === datasetSelect.value));
  });

  const submit = h('button', { type: 'submit', class: 'primary' }, 'Start training');
  const element = h(
    'form',
    { class: 'job-form', novalidate: true, 'aria-label': 'New training job' },
    h(
      'fieldset',
      {},
      h('legend', {}, 'Data'),
      field('datasetId', 'Dataset', datasetSelect),
      field('task', 'Task', taskSelect, 'lm: character language model on a text corpus'),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Model'),
      field('model.hiddenSize', 'Hidden size', numberInput(JOB_DEFAULTS.model.hiddenSize, { min: '1', step: '1' })),
      field('model.activation', 'Nonlinearity', select(['tanh', 'relu'], JOB_DEFAULTS.model.activation)),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Training'),
      field('training.epochs', 'Epochs', numberInput(t.epochs, { min: '1', step: '1' })),
      field('training.batchSize', 'Batch size', numberInput(t.batchSize, { min: '1', step: '1' })),
      field('training.bptt.mode', 'BPTT', bpttSelect),
      field('training.bptt.k1', 'k1 (steps between updates)', k1),
      field('training.bptt.k2', 'k2 (steps back-propagated)', k2),
      field('training.optimizer.name', 'Optimizer', optimizerSelect),
      field('training.optimizer.lr', 'Learning rate', lrInput, 'empty: the optimizer’s default'),
      field('training.clip.maxNorm', 'Clip gradient norm at', clipNorm, 'empty: no clipping'),
      field('training.validationSplit', 'Validation split', numberInput(t.validationSplit, { min: '0', max: '0.5', step: 'any' })),
      field('training.seed', 'Seed', numberInput(t.seed, { min: '0', step: '1' })),
    ),
    formError,
    submit,
  );

  const num = (param: string): number | undefined => {
    const input = fields.get(param)!.input as HTMLInputElement;
    return input.value.trim() === '' ? undefined : Number(input.value);
  };

  function request(): CreateJobRequestInput {
    const training: Record<string, unknown> = {
      epochs: num('training.epochs'),
      batchSize: num('training.batchSize'),
      bptt: bpttSelect.value === 'full' ? { mode: 'full' } : { mode: 'truncated', k1: num('training.bptt.k1'), k2: num('training.bptt.k2') },
      optimizer: { name: optimizerSelect.value, ...(num('training.optimizer.lr') === undefined ? {} : { lr: num('training.optimizer.lr') }) },
      clip: num('training.clip.maxNorm') === undefined ? { mode: 'none' } : { mode: 'norm', maxNorm: num('training.clip.maxNorm') },
      validationSplit: num('training.validationSplit'),
      seed: num('training.seed'),
    };
    for (const key of Object.keys(training)) if (training[key] === undefined) delete training[key];
    const model: Record<string, unknown> = { hiddenSize: num('model.hiddenSize'), activation: fields.get('model.activation')!.input.value };
    if (model.hiddenSize === undefined) delete model.hiddenSize;
    return { datasetId: datasetSelect.value || undefined, task: taskSelect.value as Task, model, training } as CreateJobRequestInput;
  }

  function clearErrors(): void {
    formError.textContent = '';
    for (const f of fields.values()) {
      f.error.textContent = '';
      f.input.removeAttribute('aria-invalid');
    }
  }

  function showError(param: string | undefined, message: string): void {
    // The closest field: training.optimizer.lr, else training.optimizer, …
    let target: Field | undefined;
    for (let p = param ?? ''; p && !target; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') target = fields.get(p) ?? fields.get(`${p}.name`) ?? fields.get(`${p}.mode`);
    if (!target) {
      formError.textContent = message;
      return;
    }
    target.error.textContent = message.replace(/^[\w.]+: /, '');
    target.input.setAttribute('aria-invalid', 'true');
    target.input.focus();
  }

  element.addEventListener('submit', (event) => {
    event.preventDefault();
    clearErrors();
    const body = request();
    if (!body.datasetId) return showError('datasetId', 'choose a dataset (upload one above)');
    const parsed = CreateJobRequest.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return showError(issue.path.join('.'), issue.message);
    }
    submit.disabled = true;
    void onSubmit(body).finally(() => (submit.disabled = false));
  });

  return {
    element,
    showError,
    setDatasets(list, selectId) {
      datasets = list;
      const previous = selectId ?? datasetSelect.value;
      datasetSelect.replaceChildren(
        ...(list.length === 0 ? [h('option', { value: '' }, 'Upload a dataset first')] : list.map((d) => h('option', { value: d.id }, `${d.name ?? d.id} (${d.kind}, ${d.bytes} bytes)`))),
      );
      if (list.some((d) => d.id === previous)) datasetSelect.value = previous;
      taskSelect.value = taskForDataset(list.find((d) => d.id === datasetSelect.value));
    },
  };
}
