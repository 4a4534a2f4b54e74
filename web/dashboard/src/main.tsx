import { render } from 'preact';
import { App } from './app';
import { loadConfig } from './config';
import './style.css';

void loadConfig().then((cfg) => {
  const root = document.getElementById('app');
  if (root) render(<App cfg={cfg} />, root);
});
