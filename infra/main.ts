/** `cdk synth` / `cdk deploy` run this (cdk.json "app"). */
import { createApp } from './app.js';

createApp().app.synth();
